"""The in-process bus of the embedded default: one asyncio.Event per topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from enum import StrEnum


class Topic(StrEnum):
    DISPATCH = "dispatch"
    SCHEDULE = "schedule"


class LocalBus:
    def __init__(self) -> None:
        self._events: defaultdict[Topic, asyncio.Event] = defaultdict(asyncio.Event)

    def wake(self, *topics: Topic) -> None:
        for topic in topics:
            self._events[topic].set()

    async def wait(self, topic: Topic, timeout: float) -> None:
        """Return on a wake-up of `topic` or after `timeout` seconds, whichever comes first."""
        event = self._events[topic]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()
