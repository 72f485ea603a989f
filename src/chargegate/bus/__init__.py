"""Wake-ups between the parts of chargegate, and between nodes in multi-node mode.

A wake-up carries no data: the database is the truth, a lost wake-up only costs latency (the
loops also poll). Evictions tell the node holding a charger's old socket to close it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol


class Topic(StrEnum):
    DISPATCH = "dispatch"
    SCHEDULE = "schedule"
    WEBHOOKS = "webhooks"
    BALANCE = "balance"


Evicted = Callable[[str, int], Awaitable[None]]


class Bus(Protocol):
    def wake(self, *topics: Topic) -> None:
        """Wake the loops waiting on these topics, here and on every other node."""

    def wake_here(self, *topics: Topic) -> None:
        """Wake the loops waiting on these topics on this node only."""

    async def wait(self, topic: Topic, timeout: float) -> None:
        """Return on a wake-up of `topic` or after `timeout` seconds."""

    def evict(self, charge_point_id: str, epoch: int) -> None:
        """Tell other nodes that connection `epoch` of this charger now lives here."""

    async def send_away(self, charge_point_id: str, epoch: int) -> None:
        """Close the charger's sockets older than `epoch`, here and on every other node (it
        was disabled or deleted: `epoch` is one no socket holds)."""

    async def start(self, on_evict: Evicted) -> None: ...

    async def close(self) -> None: ...
