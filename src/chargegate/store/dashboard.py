"""Read-only queries behind the operator dashboard (staging records are left out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueStatus, TransactionState
from chargegate.store.models import Charger, Port, QueueItem, Transaction


async def open_transactions(
    session: AsyncSession, operator_id: int
) -> Sequence[tuple[Transaction, str, int]]:
    """Open transactions with their charger id and connector, soonest expiry first."""
    rows = await session.execute(
        select(Transaction, Charger.charge_point_id, Port.connector_id)
        .join(Port, Port.port_uuid == Transaction.port_uuid)
        .join(Charger, Charger.id == Port.charger_id)
        .where(
            Transaction.operator_id == operator_id,
            Transaction.staging.is_(False),
            Transaction.state == TransactionState.OPEN.value,
        )
        .order_by(Transaction.expires_at)
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def recent_failures(
    session: AsyncSession, operator_id: int, since: datetime, limit: int = 50
) -> Sequence[tuple[QueueItem, str, str, int]]:
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
            QueueItem.status == QueueStatus.FAILURE.value,
            QueueItem.resolved_at >= since,
        )
        .order_by(QueueItem.resolved_at.desc())
        .limit(limit)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def delivered_since(
    session: AsyncSession, operator_id: int, since: datetime
) -> Sequence[Transaction]:
    """Sessions that delivered energy in the window: ended in it, or still open."""
    return (
        await session.scalars(
            select(Transaction).where(
                Transaction.operator_id == operator_id,
                Transaction.staging.is_(False),
                Transaction.meter_start_wh.is_not(None),
                or_(
                    Transaction.ended_at >= since,
                    Transaction.state == TransactionState.OPEN.value,
                ),
            )
        )
    ).all()
