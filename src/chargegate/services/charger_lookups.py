"""Charger rows read in groups: a reconnect storm is thousands of handshakes, then boots, at
once, and a read each would queue them all on the few reader connections (and time out)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from chargegate.services.group_commit import GroupCommit
from chargegate.store import chargers as charger_store
from chargegate.store.database import SessionFactory
from chargegate.store.models import Charger


@dataclass(slots=True)
class _Lookup:
    charge_point_id: str
    charger: Charger | None = None


class ChargerLookups:
    def __init__(self, reads: SessionFactory) -> None:
        # A batch is read once every lookup in it was asked for, so no answer is older than
        # its question.
        self._group: GroupCommit[_Lookup] = GroupCommit(
            partial(_read, reads),
            "charger_lookups",
            describe=lambda lookup: {"charge_point_id": lookup.charge_point_id},
        )

    async def get(self, charge_point_id: str) -> Charger | None:
        """The charger (detached, read only), or None if there is no such row."""
        lookup = _Lookup(charge_point_id)
        await self._group.add(lookup)
        return lookup.charger


async def _read(reads: SessionFactory, batch: list[_Lookup]) -> None:
    async with reads() as session:
        found = await charger_store.chargers_by_id(session, {one.charge_point_id for one in batch})
    for lookup in batch:
        lookup.charger = found.get(lookup.charge_point_id)
