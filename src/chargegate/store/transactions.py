"""Transactions and the queue items that report on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueKind, QueueStatus, TransactionOrigin, TransactionState
from chargegate.store.models import Charger, Port, QueueItem, Transaction

_ACTIVE = (TransactionState.PENDING.value, TransactionState.OPEN.value)


async def operator_transaction(
    session: AsyncSession,
    operator_id: int,
    transaction_uuid: str,
    staging: bool,
    *,
    for_update: bool = False,
) -> Transaction | None:
    query = select(Transaction).where(
        Transaction.transaction_uuid == transaction_uuid,
        Transaction.operator_id == operator_id,
        Transaction.staging == staging,
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def port_transactions(
    session: AsyncSession, port_uuid: str, operator_id: int, staging: bool, limit: int
) -> Sequence[Transaction]:
    query = (
        select(Transaction)
        .where(
            Transaction.port_uuid == port_uuid,
            Transaction.operator_id == operator_id,
            Transaction.staging == staging,
        )
        .order_by(Transaction.created_at.desc(), Transaction.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def active_on_port(
    session: AsyncSession, port_uuid: str, staging: bool
) -> Transaction | None:
    """A session that occupies the port. A 2.0.1 station's transaction opened by plugging in,
    with nobody authorised yet, does not: it is waiting for exactly such a start."""
    return await session.scalar(
        select(Transaction)
        .where(
            Transaction.port_uuid == port_uuid,
            Transaction.staging == staging,
            Transaction.state.in_(_ACTIVE),
            or_(Transaction.origin == TransactionOrigin.API.value, Transaction.id_tag != ""),
        )
        .limit(1)
    )


def _on_charger(charger_id: int, *conditions: Any) -> Select[Transaction]:
    return (
        select(Transaction)
        .join(Port, Transaction.port_uuid == Port.port_uuid)
        .where(Port.charger_id == charger_id, Transaction.staging.is_(False), *conditions)
        .order_by(Transaction.id.desc())
        .limit(1)
        # A charger's report and an API request about the same transaction take turns.
        .with_for_update(of=Transaction)
    )


async def charger_transaction_by_tag(
    session: AsyncSession, charger_id: int, id_tag: str, origin: TransactionOrigin
) -> Transaction | None:
    """The newest transaction on this charger that carries `id_tag`."""
    return await session.scalar(
        _on_charger(charger_id, Transaction.id_tag == id_tag, Transaction.origin == origin.value)
    )


async def charger_transaction_by_id(
    session: AsyncSession, charger_id: int, reference: int | str
) -> Transaction | None:
    """By our id (OCPP 1.6 transactionId, 2.0.1 remoteStartId) or the 2.0.1 charger's id."""
    if isinstance(reference, str):
        return await session.scalar(
            _on_charger(charger_id, Transaction.charger_transaction_id == reference)
        )
    return await session.scalar(_on_charger(charger_id, Transaction.id == reference))


async def open_on_port(session: AsyncSession, port_uuid: str) -> Transaction | None:
    return await session.scalar(
        select(Transaction)
        .where(
            Transaction.port_uuid == port_uuid,
            Transaction.staging.is_(False),
            Transaction.state == TransactionState.OPEN.value,
        )
        .order_by(Transaction.id.desc())
        .limit(1)
    )


async def queue_item(
    session: AsyncSession, operator_id: int, queue_uuid: str, staging: bool
) -> QueueItem | None:
    return await session.scalar(
        select(QueueItem).where(
            QueueItem.queue_uuid == queue_uuid,
            QueueItem.operator_id == operator_id,
            QueueItem.staging == staging,
        )
    )


async def open_queue_item(
    session: AsyncSession, transaction_id: int, kind: QueueKind
) -> QueueItem | None:
    return await session.scalar(
        select(QueueItem).where(
            QueueItem.transaction_id == transaction_id,
            QueueItem.kind == kind.value,
            QueueItem.status == QueueStatus.IN_PROGRESS.value,
        )
    )


async def latest_queue_item(
    session: AsyncSession, transaction_id: int, kind: QueueKind
) -> QueueItem | None:
    return await session.scalar(
        select(QueueItem)
        .where(QueueItem.transaction_id == transaction_id, QueueItem.kind == kind.value)
        .order_by(QueueItem.created_at.desc())
        .limit(1)
    )


def _expiring() -> tuple[object, ...]:
    """Open transactions whose expiry still has to be acted on."""
    return (
        Transaction.state == TransactionState.OPEN.value,
        Transaction.stop_requested_at.is_(None),
        Transaction.expires_at.is_not(None),
    )


# Every node runs a scheduler: each due row goes to whichever claims it first.
async def due_expiries(session: AsyncSession, now: datetime) -> Sequence[Transaction]:
    return (
        await session.scalars(
            select(Transaction)
            .where(*_expiring(), Transaction.expires_at <= now)  # type: ignore[arg-type]
            .with_for_update(skip_locked=True)
        )
    ).all()


async def expired_pending(session: AsyncSession, now: datetime) -> Sequence[Transaction]:
    return (
        await session.scalars(
            select(Transaction)
            .where(
                Transaction.state == TransactionState.PENDING.value,
                Transaction.staging.is_(False),
                Transaction.expires_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()


async def overdue_starts(session: AsyncSession, now: datetime) -> Sequence[QueueItem]:
    return (
        await session.scalars(
            select(QueueItem)
            .where(
                QueueItem.kind == QueueKind.START.value,
                QueueItem.status == QueueStatus.IN_PROGRESS.value,
                QueueItem.deadline_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest time at which the scheduler has something to do."""
    expiry = await session.scalar(
        select(func.min(Transaction.expires_at)).where(*_expiring())  # type: ignore[arg-type]
    )
    pending_expiry = await session.scalar(
        select(func.min(Transaction.expires_at)).where(
            Transaction.state == TransactionState.PENDING.value, Transaction.staging.is_(False)
        )
    )
    deadline = await session.scalar(
        select(func.min(QueueItem.deadline_at)).where(
            QueueItem.kind == QueueKind.START.value,
            QueueItem.status == QueueStatus.IN_PROGRESS.value,
        )
    )
    candidates = [value for value in (expiry, pending_expiry, deadline) if value is not None]
    return min(candidates) if candidates else None


async def transaction_charger(session: AsyncSession, transaction: Transaction) -> Charger:
    charger = await session.scalar(
        select(Charger)
        .join(Port, Port.charger_id == Charger.id)
        .where(Port.port_uuid == transaction.port_uuid)
    )
    if charger is None:
        raise LookupError(f"transaction {transaction.transaction_uuid} has no charger")
    return charger
