"""Read-only queries behind the operator dashboard (staging records are left out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueStatus, TransactionState
from chargegate.store.models import Charger, Port, QueueItem, Transaction


class OpenRow(NamedTuple):
    """An open transaction with where it runs."""

    transaction: Transaction
    charge_point_id: str
    connector_id: int


class FailureRow(NamedTuple):
    """A failed request with its transaction and where that ran."""

    item: QueueItem
    transaction_uuid: str
    charge_point_id: str
    connector_id: int


def _open(operator_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Transaction.operator_id == operator_id,
        Transaction.staging.is_(False),
        Transaction.state == TransactionState.OPEN,
    )


async def open_transactions(session: AsyncSession, operator_id: int, limit: int) -> list[OpenRow]:
    """The first `limit` open transactions, soonest expiry first, with their charger id and
    connector."""
    rows = await session.execute(
        select(Transaction, Charger.charge_point_id, Port.connector_id)
        .join(Port, Port.port_uuid == Transaction.port_uuid)
        .join(Charger, Charger.id == Port.charger_id)
        .where(*_open(operator_id))
        .order_by(Transaction.expires_at, Transaction.id)
        .limit(limit)
    )
    return [OpenRow(*row) for row in rows]


async def open_count(session: AsyncSession, operator_id: int) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Transaction).where(*_open(operator_id))
    )
    return int(found or 0)


async def port_count(session: AsyncSession, operator_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Port)
        .join(Charger, Charger.id == Port.charger_id)
        .where(
            Charger.operator_id == operator_id,
            Charger.deleted_at.is_(None),
            Port.removed_at.is_(None),
        )
    )
    return int(found or 0)


async def recent_failures(
    session: AsyncSession, operator_id: int, since: datetime, limit: int = 50
) -> list[FailureRow]:
    """Failed requests, newest first, with their transaction uuid, charger id and connector.

    A failed transaction is always reached through its failed start request (they fail together,
    with the same reason), so listing queue items shows each failure once."""
    rows = await session.execute(
        select(QueueItem, Transaction.transaction_uuid, Charger.charge_point_id, Port.connector_id)
        .join(Transaction, Transaction.id == QueueItem.transaction_id)
        .join(Port, Port.port_uuid == Transaction.port_uuid)
        .join(Charger, Charger.id == Port.charger_id)
        .where(
            QueueItem.operator_id == operator_id,
            QueueItem.staging.is_(False),
            QueueItem.status == QueueStatus.FAILURE,
            QueueItem.resolved_at >= since,
        )
        .order_by(QueueItem.resolved_at.desc())
        .limit(limit)
    )
    return [FailureRow(*row) for row in rows]


async def energy_by_hour(
    session: AsyncSession, operator_id: int, starts: Sequence[datetime]
) -> list[tuple[int, int]]:
    """Wh delivered per hour of `starts` (consecutive clock hours, the current one last), as
    (index in starts, Wh) for the hours that had any: a session counts in the hour it ended, an
    open one in the current hour. Summed by the database, so a busy day costs one row per hour
    rather than one per session."""
    ended = Transaction.ended_at
    hour = case(
        (ended.is_(None), len(starts) - 1),
        *[(ended < starts[index + 1], index) for index in range(len(starts) - 1)],
        else_=len(starts) - 1,
    )
    # Readings are signed 32-bit columns, so a difference of two can need 33 bits: on
    # PostgreSQL an int4 subtraction would raise "integer out of range" for the whole page.
    energy = cast(
        func.coalesce(Transaction.meter_stop_wh, Transaction.meter_last_wh), BigInteger
    ) - cast(Transaction.meter_start_wh, BigInteger)
    # A meter that went backwards adds nothing.
    delivered = case((energy > 0, energy), else_=0)
    rows = (
        select(hour.label("hour"), delivered.label("wh"))
        .where(
            Transaction.operator_id == operator_id,
            Transaction.staging.is_(False),
            Transaction.meter_start_wh.is_not(None),
            or_(
                and_(ended >= starts[0], ended < starts[-1] + timedelta(hours=1)),
                and_(ended.is_(None), Transaction.state == TransactionState.OPEN),
            ),
        )
        .subquery()
    )
    # Grouped outside: PostgreSQL would not match a GROUP BY expression with bound parameters
    # to the same expression in the select list.
    totals = await session.execute(select(rows.c.hour, func.sum(rows.c.wh)).group_by(rows.c.hour))
    return [(int(index), int(wh or 0)) for index, wh in totals]
