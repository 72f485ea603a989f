"""Chargers as the operator manages them: listed with their ports, disabled, deleted, ports
taken off, and sent away from whichever node holds them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.cursors import ChargerMark
from chargegate.domain.fleet import ChargersRequest
from chargegate.domain.states import TransactionState
from chargegate.store.chunks import chunks
from chargegate.store.models import Charger, Port, Transaction

ChargerRow = tuple[Charger, list[Port]]


def _listed(operator_id: int, request: ChargersRequest) -> Select[Charger]:
    query = (
        select(Charger)
        .where(Charger.operator_id == operator_id, Charger.deleted_at.is_(None))
        .order_by(Charger.charge_point_id)
    )
    if request.online is not None:
        connected = Charger.connected_node.is_not(None)
        query = query.where(connected if request.online else ~connected)
    if request.disabled is not None:
        query = query.where(Charger.disabled.is_(request.disabled))
    return query


async def page_end(
    session: AsyncSession, operator_id: int, request: ChargersRequest
) -> ChargerMark | None:
    """The last charger of a full page (the `limit`-th), None if the page is not full."""
    query = _listed(operator_id, request).with_only_columns(Charger.charge_point_id)
    if request.after is not None:
        query = query.where(Charger.charge_point_id > request.after.charge_point_id)
    found = await session.scalar(query.offset(request.limit - 1).limit(1))
    return None if found is None else ChargerMark(found)


async def listed(
    session: AsyncSession,
    after: ChargerMark | None,
    through: ChargerMark | None,
    size: int,
    *,
    operator_id: int,
    request: ChargersRequest,
) -> list[ChargerRow]:
    """Up to `size` of the listed chargers beyond `after` and not beyond `through`, each with
    its ports (one more query for the whole batch)."""
    query = _listed(operator_id, request).limit(size)
    if after is not None:
        query = query.where(Charger.charge_point_id > after.charge_point_id)
    if through is not None:
        query = query.where(Charger.charge_point_id <= through.charge_point_id)
    chargers = (await session.scalars(query)).all()
    ports: defaultdict[int, list[Port]] = defaultdict(list)
    for chunk in chunks([charger.id for charger in chargers]):
        rows = await session.scalars(
            select(Port)
            .where(Port.charger_id.in_(chunk), Port.removed_at.is_(None))
            .order_by(Port.connector_id)
        )
        for port in rows:
            ports[port.charger_id].append(port)
    return [(charger, ports[charger.id]) for charger in chargers]


async def live_connectors(session: AsyncSession, charger_id: int, above: int = 0) -> Sequence[int]:
    """Connectors above `above` on which a real session is pending or open. The charger's
    ports are locked first, as an API start locks its port: a start at the same moment either
    is seen here, or waits and then finds its port taken off (or its charger deleted)."""
    await session.execute(
        select(Port.port_uuid).where(Port.charger_id == charger_id).with_for_update()
    )
    query = (
        select(Port.connector_id)
        .join(Transaction, Transaction.port_uuid == Port.port_uuid)
        .where(
            Port.charger_id == charger_id,
            Port.connector_id > above,
            Transaction.staging.is_(False),
            Transaction.state.in_((TransactionState.PENDING, TransactionState.OPEN)),
        )
        .distinct()
        .order_by(Port.connector_id)
    )
    return (await session.scalars(query)).all()


async def set_ports_removed(
    session: AsyncSession, charger_id: int, above: int, now: datetime
) -> None:
    """Take the ports above connector `above` off; those up to it are on (again)."""
    await session.execute(
        update(Port)
        .where(Port.charger_id == charger_id, Port.connector_id > above, Port.removed_at.is_(None))
        .values(removed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Port)
        .where(Port.charger_id == charger_id, Port.connector_id <= above)
        .values(removed_at=None)
        .execution_options(synchronize_session=False)
    )


async def send_away(session: AsyncSession, charger_id: int) -> int:
    """A new connection epoch that no socket holds: every node closes the charger's older
    socket on hearing it (ocpp.connections), and none of them may send to it meanwhile.
    Returns that epoch."""
    epoch: int | None = await session.scalar(
        update(Charger)
        .where(Charger.id == charger_id)
        .values(connection_epoch=Charger.connection_epoch + 1, connected_node=None)
        .returning(Charger.connection_epoch)
        .execution_options(synchronize_session=False)
    )
    assert epoch is not None, "the charger row is there"
    return epoch
