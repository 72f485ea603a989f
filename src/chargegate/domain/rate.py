"""A token bucket: at most `rate` events per second on average, `burst` at once."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from chargegate.domain.lru import Lru


class TokenBucket:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the event is over the limit)."""
        # _refill inlined: a charger's every message passes here.
        now = self._clock()
        tokens = self._tokens + (now - self._at) * self._rate
        self._at = now
        if tokens > self._burst:
            tokens = self._burst
        if tokens < 1:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1
        return True

    def give_back(self) -> None:
        """Return a token taken for an event that turned out not to count (a reservation)."""
        self._refill()
        self._tokens = min(self._burst, self._tokens + 1)

    def available(self) -> bool:
        """Whether one more event would be within the limit, without spending a token."""
        self._refill()
        return self._tokens >= 1

    def retry_after_s(self) -> int:
        """Whole seconds until the next token (at least 1): what a `Retry-After` header says."""
        self._refill()
        if self._rate <= 0:
            return 3600
        return max(1, math.ceil((1 - self._tokens) / self._rate))


class KeyedBuckets:
    """One token bucket per key (an API key, a client address), created full on first use.

    Only the most recently used `size` keys are kept, so an attacker cycling through addresses
    costs bounded memory; a forgotten key starts again with a full bucket."""

    def __init__(
        self,
        rate: float,
        burst: int,
        size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: Lru[object, TokenBucket] = Lru(size)

    def __getitem__(self, key: object) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._clock)
            self._buckets.put(key, bucket)
        return bucket
