"""Group commit: many small writes that arrive together become a few transactions.

On SQLite every write transaction goes through one connection (and an fsync); a burst of small
writes (an expiry wave's answers, thousands of chargers' heartbeats) would otherwise queue one
commit at a time behind each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Items added while one write is under way are written together by the next writer.

    `add` returns once its item is written, by this task or an earlier one, so a caller waits
    for at most the write under way and its own. A batch that fails is written item by item;
    items that still fail are kept for the next `flush` (a caller's retry loop), never dropped.
    """

    def __init__(self, write: Callable[[list[Item]], Awaitable[None]], what: str) -> None:
        self._write = write
        self._what = what
        self._pending: list[Item] = []
        self._writing = asyncio.Lock()

    async def add(self, item: Item) -> None:
        self._pending.append(item)
        await self.flush()

    async def flush(self) -> None:
        async with self._writing:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._write(batch)
            except Exception:
                log.exception(
                    "writing a batch failed; writing one by one", extra={"what": self._what}
                )
                failed = []
                for one in batch:
                    try:
                        await self._write([one])
                    except Exception:
                        failed.append(one)
                if failed:
                    log.error(
                        "not written yet; will retry",
                        extra={"what": self._what, "count": len(failed)},
                    )
                    self._pending = failed + self._pending
