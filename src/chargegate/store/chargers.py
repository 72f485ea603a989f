"""Chargers, their ports and which node holds their connection."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.cursors import PortMark
from chargegate.domain.validation import PortsRequest
from chargegate.store import sites
from chargegate.store.chunks import chunks, rows_by
from chargegate.store.models import Charger, Operator, Port

Row = TypeVarTuple("Row")


async def get_charger(session: AsyncSession, charge_point_id: str) -> Charger | None:
    return await session.scalar(select(Charger).where(Charger.charge_point_id == charge_point_id))


async def registered(session: AsyncSession, charge_point_id: str) -> Charger:
    """The charger; LookupError if no such charger is registered."""
    charger = await get_charger(session, charge_point_id)
    if charger is None:
        raise LookupError(f"charger {charge_point_id!r} is not registered")
    return charger


async def operator_charger(
    session: AsyncSession, operator_id: int, charge_point_id: str
) -> Charger | None:
    """The charger, if it is this operator's (and not deleted)."""
    return await session.scalar(
        select(Charger).where(
            Charger.charge_point_id == charge_point_id,
            Charger.operator_id == operator_id,
            Charger.deleted_at.is_(None),
        )
    )


async def add_charger(
    session: AsyncSession,
    *,
    charge_point_id: str,
    operator_id: int,
    password_hash: str | None,
    now: datetime,
) -> Charger:
    charger = Charger(
        charge_point_id=charge_point_id,
        operator_id=operator_id,
        password_hash=password_hash,
        connection_epoch=0,
        created_at=now,
    )
    session.add(charger)
    await session.flush()
    return charger


async def count_with_password_hash(session: AsyncSession, password_hash: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Charger).where(Charger.password_hash == password_hash)
    )
    return int(found or 0)


async def operator_charger_count(session: AsyncSession, operator_id: int) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Charger).where(Charger.operator_id == operator_id)
    )
    return int(found or 0)


async def named_operator_charger_count(session: AsyncSession, operator_name: str) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Charger)
        .join(Operator, Operator.id == Charger.operator_id)
        .where(Operator.name == operator_name)
    )
    return int(found or 0)


async def chargers_by_id(
    session: AsyncSession, charge_point_ids: Collection[str]
) -> dict[str, Charger]:
    return await rows_by(session, Charger.charge_point_id, charge_point_ids)


async def ensure_ports(
    session: AsyncSession, wanted: Collection[tuple[Charger, int]]
) -> dict[tuple[int, int], Port]:
    """The ports of (charger, connector id) pairs, keyed by (charger row id, connector id);
    those not known yet are created. A few statements however many ports."""
    by_id = {charger.id: charger for charger, _ in wanted}
    found: dict[tuple[int, int], Port] = {}
    for chunk in chunks(sorted(by_id)):
        rows = await session.scalars(select(Port).where(Port.charger_id.in_(chunk)))
        found.update(((port.charger_id, port.connector_id), port) for port in rows)
    for charger, connector_id in wanted:
        key = (charger.id, connector_id)
        if key not in found:
            found[key] = Port(
                port_uuid=str(uuid.uuid4()), charger_id=charger.id, connector_id=connector_id
            )
            session.add(found[key])
    return found


async def ensure_port(session: AsyncSession, charger: Charger, connector_id: int) -> Port:
    """One port, created (and flushed, so it has its row id) if not known yet."""
    port = (await ensure_ports(session, [(charger, connector_id)]))[(charger.id, connector_id)]
    await session.flush()
    return port


# A port's stored (status, error code).
StoredStatus = tuple[str | None, str | None]


async def port_statuses(
    session: AsyncSession, ports: Collection[tuple[str, int]]
) -> dict[tuple[str, int], StoredStatus]:
    """The stored statuses of (charge point id, connector id) pairs; ports not known yet are
    left out."""
    wanted = set(ports)
    found: dict[tuple[str, int], StoredStatus] = {}
    for chunk in chunks(sorted({charge_point_id for charge_point_id, _ in wanted})):
        rows = await session.execute(
            select(Charger.charge_point_id, Port.connector_id, Port.status, Port.error_code)
            .join(Charger, Charger.id == Port.charger_id)
            .where(Charger.charge_point_id.in_(chunk))
        )
        for row in rows:
            key = (row.charge_point_id, row.connector_id)
            if key in wanted:
                found[key] = (row.status, row.error_code)
    return found


async def charger_ports(session: AsyncSession, charger_id: int) -> Sequence[Port]:
    """The charger's ports in service (not taken off through the API)."""
    return (
        await session.scalars(
            select(Port)
            .where(Port.charger_id == charger_id, Port.removed_at.is_(None))
            .order_by(Port.connector_id)
        )
    ).all()


async def operator_port(
    session: AsyncSession,
    operator_id: int,
    port_uuid: str,
    *,
    for_update: bool = False,
    retired_too: bool = False,
) -> tuple[Port, Charger] | None:
    """The operator's port in service; `retired_too`: also one taken off or of a deleted
    charger (whose past records stay readable)."""
    query = _operator_port(select(Port, Charger), operator_id, port_uuid, retired_too)
    if for_update:
        query = query.with_for_update(of=Port)
    row = (await session.execute(query)).first()
    return None if row is None else (row.Port, row.Charger)


async def port_to_start(
    session: AsyncSession, operator_id: int, port_uuid: str
) -> tuple[Port, Charger, bool] | None:
    """The operator's port in service, locked, its charger, and whether it is under a site:
    what a start needs, in one statement (it runs holding the writer)."""
    query = _operator_port(
        select(Port, Charger, sites.port_under_a_site()), operator_id, port_uuid, False
    )
    row = (await session.execute(query.with_for_update(of=Port))).first()
    return None if row is None else (row[0], row[1], bool(row[2]))


def _operator_port(
    query: Select[*Row], operator_id: int, port_uuid: str, retired_too: bool
) -> Select[*Row]:
    query = query.join(Charger, Port.charger_id == Charger.id).where(
        Port.port_uuid == port_uuid, Charger.operator_id == operator_id
    )
    if not retired_too:
        query = query.where(Port.removed_at.is_(None), Charger.deleted_at.is_(None))
    return query


def _ports_query(operator_id: int, *columns: Any) -> Select[Any]:
    """The operator's ports, by charger id, then connector."""
    return (
        select(*columns)
        .join(Charger, Port.charger_id == Charger.id)
        .where(
            Charger.operator_id == operator_id,
            Charger.deleted_at.is_(None),
            Port.removed_at.is_(None),
        )
        .order_by(Charger.charge_point_id, Port.connector_id)
    )


def _beyond(mark: PortMark) -> ColumnElement[bool]:
    return or_(
        Charger.charge_point_id > mark.charge_point_id,
        and_(
            Charger.charge_point_id == mark.charge_point_id, Port.connector_id > mark.connector_id
        ),
    )


async def ports_page_end(
    session: AsyncSession, operator_id: int, request: PortsRequest
) -> PortMark | None:
    """The last port of a full page (the `limit`-th), None if the page is not full."""
    assert request.limit > 0
    query = _ports_query(operator_id, Charger.charge_point_id, Port.connector_id)
    if request.after is not None:
        query = query.where(_beyond(request.after))
    row = (await session.execute(query.offset(request.limit - 1).limit(1))).first()
    return None if row is None else PortMark(row.charge_point_id, row.connector_id)


async def operator_ports(
    session: AsyncSession,
    operator_id: int,
    size: int,
    after: PortMark | None = None,
    through: PortMark | None = None,
) -> list[tuple[Port, Charger]]:
    """Up to `size` of the operator's ports beyond `after` and not beyond `through`."""
    query = _ports_query(operator_id, Port, Charger).limit(size)
    if after is not None:
        query = query.where(_beyond(after))
    if through is not None:
        query = query.where(~_beyond(through))
    rows = await session.execute(query)
    return [(port, charger) for port, charger in rows]


async def claim_connections(
    session: AsyncSession,
    charge_point_ids: Collection[str],
    node_id: str,
    ocpp_version: str,
    now: datetime,
) -> dict[str, int]:
    """Record that `node_id` now holds these chargers' sockets (each id once), in a statement
    per chunk: the new connection epochs by charge point id, without the unknown chargers and
    those disabled or deleted since their handshake began."""
    # One statement that counts up in the database: two nodes claiming at once each get an epoch
    # of their own (read, add one and write back would give both the same one on PostgreSQL).
    found: dict[str, int] = {}
    for chunk in chunks(sorted(charge_point_ids)):
        rows = await session.execute(
            update(Charger)
            .where(
                Charger.charge_point_id.in_(chunk),
                Charger.disabled.is_(False),
                Charger.deleted_at.is_(None),
            )
            .values(
                connection_epoch=Charger.connection_epoch + 1,
                connected_node=node_id,
                connected_at=now,
                last_seen_at=now,
                ocpp_version=ocpp_version,
            )
            .returning(Charger.charge_point_id, Charger.connection_epoch)
            .execution_options(synchronize_session=False)
        )
        found.update((cp, epoch) for cp, epoch in rows)
    return found


async def mark_seen(session: AsyncSession, seen: Sequence[tuple[str, datetime]]) -> None:
    """Sets last_seen_at of many chargers: (charge_point_id, time) pairs."""
    # On the session's connection (Core): through the ORM, an UPDATE with many parameter sets
    # is a bulk update by primary key, which the charge point id is not.
    connection = await session.connection()
    await connection.execute(
        update(Charger)
        .where(Charger.charge_point_id == bindparam("cp"))
        .values(last_seen_at=bindparam("at")),
        [{"cp": cp, "at": at} for cp, at in seen],
    )


async def release_connections(
    session: AsyncSession, released: Sequence[tuple[str, int, datetime]]
) -> None:
    """Marks chargers offline, (charge_point_id, epoch, time) triples, in one statement: each
    unless a newer connection (of this node or another) has already replaced that one."""
    # On the session's connection (Core), as mark_seen.
    connection = await session.connection()
    await connection.execute(
        update(Charger)
        .where(
            Charger.charge_point_id == bindparam("cp"),
            Charger.connection_epoch == bindparam("epoch"),
        )
        .values(connected_node=None, last_seen_at=bindparam("at")),
        [{"cp": cp, "epoch": epoch, "at": at} for cp, epoch, at in released],
    )


async def release_node(session: AsyncSession, node_id: str) -> None:
    """At start-up, nothing is connected to this node yet, whatever a crash left behind."""
    await session.execute(
        update(Charger).where(Charger.connected_node == node_id).values(connected_node=None)
    )


async def online_charger_ids(session: AsyncSession, operator_id: int) -> Sequence[int]:
    """The operator's chargers that hold a connection to some node now."""
    query = select(Charger.id).where(
        Charger.operator_id == operator_id, Charger.connected_node.is_not(None)
    )
    return (await session.scalars(query.order_by(Charger.id))).all()


async def lock(session: AsyncSession, charger_id: int) -> None:
    """Holds the charger row until the session ends: API starts on any of its ports that must
    see each other (one driver's token at a time) take turns."""
    await session.execute(select(Charger.id).where(Charger.id == charger_id).with_for_update())
