"""Reads of what a charger's reconnect needs, in groups: a reconnect storm is thousands of
handshakes, then boots, status reports and probe answers at once, and a read each would queue
them all on the few reader connections (and time out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.services.group_commit import GroupCommit
from chargegate.store import chargers as charger_store
from chargegate.store import local_lists as list_store
from chargegate.store.database import SessionFactory
from chargegate.store.models import Charger, LocalList

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

# Reads many keys at once; a key with no row is left out of the answer.
ReadMany = Callable[[AsyncSession, Collection[Key]], Awaitable[Mapping[Key, Value]]]


@dataclass(slots=True)
class _Lookup(Generic[Key, Value]):
    key: Key
    found: Value | None = None


class GroupedRead(Generic[Key, Value]):
    """Lookups of one kind asked for while a read is under way are read together next. A batch
    is read once every lookup in it was asked for, so no answer is older than its question."""

    def __init__(self, reads: SessionFactory, read: ReadMany[Key, Value], what: str) -> None:
        self._group: GroupCommit[_Lookup[Key, Value]] = GroupCommit(
            partial(_read, reads, read), what, describe=lambda lookup: {"key": str(lookup.key)}
        )

    async def get(self, key: Key) -> Value | None:
        """The value (detached, read only), or None if there is no such row."""
        lookup: _Lookup[Key, Value] = _Lookup(key)
        await self._group.add(lookup)
        return lookup.found


async def _read(
    reads: SessionFactory, read: ReadMany[Key, Value], batch: list[_Lookup[Key, Value]]
) -> None:
    async with reads() as session:
        found = await read(session, {lookup.key for lookup in batch})
    for lookup in batch:
        lookup.found = found.get(lookup.key)


class ChargerLookups:
    """One node's grouped reads of chargers, their ports' stored statuses and their local list
    states."""

    def __init__(self, reads: SessionFactory) -> None:
        self._chargers: GroupedRead[str, Charger] = GroupedRead(
            reads, charger_store.chargers_by_id, "charger_lookups"
        )
        self._port_statuses: GroupedRead[tuple[str, int], charger_store.StoredStatus] = GroupedRead(
            reads, charger_store.port_statuses, "port_status_lookups"
        )
        self._local_lists: GroupedRead[int, LocalList] = GroupedRead(
            reads, list_store.by_charger_ids, "local_list_lookups"
        )

    async def charger(self, charge_point_id: str) -> Charger | None:
        return await self._chargers.get(charge_point_id)

    async def port_status(
        self, charge_point_id: str, connector_id: int
    ) -> charger_store.StoredStatus | None:
        """The stored (status, error code) of a port, None if the port is not known yet."""
        return await self._port_statuses.get((charge_point_id, connector_id))

    async def local_list(self, charger_id: int) -> LocalList | None:
        return await self._local_lists.get(charger_id)
