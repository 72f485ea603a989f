"""The operator's ports, with their last reported status."""

from __future__ import annotations

from functools import partial

from chargegate.domain.cursors import PortMark
from chargegate.domain.validation import PortsRequest
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.runtime import Runtime
from chargegate.services.views import PortView, port_view
from chargegate.store import chargers as charger_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Charger, Port

PortRow = tuple[Port, Charger]


def _mark(row: PortRow) -> PortMark:
    port, charger = row
    return PortMark(charger.charge_point_id, port.connector_id)


async def list_ports(
    rt: Runtime, operator_id: int, request: PortsRequest
) -> Listing[PortRow, PortView, PortMark]:
    async def rows(
        session: AsyncSession, after: PortMark | None, through: PortMark | None, size: int
    ) -> list[PortRow]:
        return await charger_store.operator_ports(session, operator_id, size, after, through)

    keyset = Keyset(
        rows=rows,
        page_end=partial(charger_store.ports_page_end, operator_id=operator_id, request=request),
        mark=_mark,
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, port_view)
