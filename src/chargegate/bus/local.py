"""The in-process bus of the embedded default: one asyncio.Event per topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from chargegate.bus import Evicted, Topic


class LocalBus:
    def __init__(self) -> None:
        self._events: defaultdict[Topic, asyncio.Event] = defaultdict(asyncio.Event)
        self._on_evict: Evicted | None = None

    def wake(self, *topics: Topic) -> None:
        self.wake_here(*topics)

    def wake_here(self, *topics: Topic) -> None:
        for topic in topics:
            self._events[topic].set()

    async def wait(self, topic: Topic, timeout: float) -> None:
        event = self._events[topic]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    def evict(self, charge_point_id: str, epoch: int) -> None:
        """One node: the connection registry already replaced the old socket."""

    async def send_away(self, charge_point_id: str, epoch: int) -> None:
        if self._on_evict is not None:
            await self._on_evict(charge_point_id, epoch)

    async def start(self, on_evict: Evicted) -> None:
        self._on_evict = on_evict

    async def close(self) -> None:
        pass
