"""Queue items: what an API caller follows a start, a stop or a command by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import (
    QueueKind,
    QueueStatus,
)
from chargegate.store.chunks import lock_rows
from chargegate.store.models import QueueItem


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
            QueueItem.kind == kind,
            QueueItem.status == QueueStatus.IN_PROGRESS,
        )
    )


async def overdue(session: AsyncSession, kind: QueueKind, now: datetime) -> Sequence[QueueItem]:
    """Queue items of `kind` still in progress past their deadline."""
    return (
        await session.scalars(
            select(QueueItem)
            .where(
                QueueItem.kind == kind,
                QueueItem.status == QueueStatus.IN_PROGRESS,
                QueueItem.deadline_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()


async def lock_in_order(session: AsyncSession, queue_uuids: Iterable[str]) -> None:
    """Locks these queue items, in the order of their ids: after their transactions, before
    their commands (store.transactions.lock_in_order)."""
    await lock_rows(session, QueueItem.queue_uuid, queue_uuids)
