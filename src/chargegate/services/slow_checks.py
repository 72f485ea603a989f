"""Slow hash checks (scrypt) on threads of their own, a bounded number at once.

scrypt costs tens of milliseconds of CPU: on the event loop it would stall everyone, and on
asyncio's default thread pool a flood of one kind (bad API keys) would queue ahead of another
(charger logins). Each kind gets its own small pool instead: at most `threads` of its checks run
at once, the rest wait their turn in that pool only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from chargegate import metrics

# What is checked, as the label of chargegate_slow_checks_total.
Checked = Literal["api_key", "charger_password"]


class SlowChecks:
    def __init__(self, what: Checked, threads: int) -> None:
        self._what = what
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix=f"check-{what}")
        # How long a check has lately taken from asking to answer, waiting included.
        self._typical_s = 0.0

    async def run(self, check: Callable[[str, str], bool], secret: str, stored: str) -> bool:
        def counted() -> bool:
            # Counted when it runs, not when queued: a request that left meanwhile costs none.
            metrics.SLOW_CHECKS.labels(self._what).inc()
            return check(secret, stored)

        began = time.monotonic()
        result = await asyncio.get_running_loop().run_in_executor(self._pool, counted)
        took = time.monotonic() - began
        self._typical_s = took if not self._typical_s else 0.8 * self._typical_s + 0.2 * took
        return result

    async def pace(self) -> None:
        """Wait as long as a check lately took, without running one: for an answer known
        without a check that must come no sooner than a check's would."""
        await asyncio.sleep(self._typical_s)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
