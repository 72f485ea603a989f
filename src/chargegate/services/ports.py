"""The operator's ports, with their last reported status."""

from __future__ import annotations

from collections.abc import Sequence

from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store.models import Charger, Port


async def list_ports(rt: Runtime, operator_id: int) -> Sequence[tuple[Port, Charger]]:
    async with rt.reads() as session:
        return await charger_store.operator_ports(session, operator_id)
