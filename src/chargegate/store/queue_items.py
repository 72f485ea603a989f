"""Queue items: what an API caller follows a start, a stop or a command by."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import (
    QueueKind,
    QueueStatus,
)
from chargegate.store.chunks import chunks, lock_rows
from chargegate.store.models import QueueItem, Transaction


async def queue_item_and_transaction(
    session: AsyncSession, operator_id: int, queue_uuid: str, staging: bool
) -> tuple[QueueItem, Transaction | None] | None:
    """The queue item and its transaction (None for a command's item), in one query: apps
    poll queue items, and every query is a round trip to the driver."""
    row = (
        await session.execute(
            select(QueueItem, Transaction)
            .outerjoin(Transaction, Transaction.id == QueueItem.transaction_id)
            .where(
                QueueItem.queue_uuid == queue_uuid,
                QueueItem.operator_id == operator_id,
                QueueItem.staging == staging,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


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


async def open_queue_items(
    session: AsyncSession, transaction_ids: Collection[int], kind: QueueKind
) -> dict[int, QueueItem]:
    """open_queue_item of many transactions, by transaction id."""
    found: dict[int, QueueItem] = {}
    for chunk in chunks(sorted(set(transaction_ids))):
        items = await session.scalars(
            select(QueueItem).where(
                QueueItem.transaction_id.in_(chunk),
                QueueItem.kind == kind,
                QueueItem.status == QueueStatus.IN_PROGRESS,
            )
        )
        for item in items:
            assert item.transaction_id is not None
            found.setdefault(item.transaction_id, item)
    return found


def awaiting(kind: QueueKind) -> tuple[ColumnElement[bool], ...]:
    """Queue items of this kind that fail once past their `deadline_at`."""
    return (QueueItem.kind == kind, QueueItem.status == QueueStatus.IN_PROGRESS)


def _overdue(kind: QueueKind, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (*awaiting(kind), QueueItem.deadline_at <= now)


async def overdue_commands(session: AsyncSession, now: datetime) -> Sequence[QueueItem]:
    """Charger commands' queue items still in progress past their deadline, locked (one that
    another write holds is left for the next look)."""
    query = select(QueueItem).where(*_overdue(QueueKind.COMMAND, now))
    return (await session.scalars(query.with_for_update(skip_locked=True))).all()


async def overdue_starts(
    session: AsyncSession, now: datetime
) -> Sequence[tuple[QueueItem, Transaction]]:
    """Starts' queue items still in progress past their deadline, with their transactions,
    which are locked (the queue items are not, yet: the transaction comes first). One whose
    transaction another write holds is left for the next look, rather than waited for."""
    rows = await session.execute(
        select(QueueItem, Transaction)
        .join(Transaction, Transaction.id == QueueItem.transaction_id)
        .where(*_overdue(QueueKind.START, now))
        .with_for_update(skip_locked=True, of=Transaction)
        .execution_options(populate_existing=True)
    )
    return rows.tuples().all()


async def lock_in_order(session: AsyncSession, queue_uuids: Iterable[str]) -> None:
    """Locks these queue items, in the order of their ids: after their transactions, before
    their commands (store.transactions.lock_in_order)."""
    await lock_rows(session, QueueItem.queue_uuid, queue_uuids)


async def lock_if_free(session: AsyncSession, queue_uuid: str) -> QueueItem | None:
    """The queue item, locked; None if another write holds it (or there is none). For a write
    that already holds the item's command, which would otherwise wait on a write that holds
    the item and waits for that command."""
    query = select(QueueItem).where(QueueItem.queue_uuid == queue_uuid)
    return await session.scalar(
        query.with_for_update(skip_locked=True).execution_options(populate_existing=True)
    )
