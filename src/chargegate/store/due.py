"""What the scheduler finds due: expiries, stop steps, pending starts past their expiry, and
when anything (start and command deadlines, reservations' expiries and the sweep of
Idempotency-Keys past their retention included) is next due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueKind, StopState, TransactionState
from chargegate.store import idempotency, queue_items, reservations
from chargegate.store.chunks import chunks
from chargegate.store.models import Charger, Port, QueueItem, Reservation, Transaction


def _expiring() -> tuple[ColumnElement[bool], ...]:
    """Open transactions whose expiry still has to be acted on."""
    return (
        Transaction.state == TransactionState.OPEN,
        Transaction.stop_requested_at.is_(None),
        Transaction.expires_at.is_not(None),
    )


# Every node runs a scheduler: each due row goes to whichever claims it first.
async def due_staging_expiries(session: AsyncSession, now: datetime) -> Sequence[Transaction]:
    return (
        await session.scalars(
            select(Transaction)
            .where(*_expiring(), Transaction.staging.is_(True), Transaction.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def due_expiries(session: AsyncSession, now: datetime) -> list[int]:
    """The real transactions whose expiry has come and that have no stop yet, locked: their
    stops (services.stops.request) go out from this scheduler pass."""
    return list(
        await session.scalars(
            select(Transaction.id)
            .where(*_expiring(), Transaction.staging.is_(False), Transaction.expires_at <= now)
            .order_by(Transaction.id)
            .with_for_update(skip_locked=True)
        )
    )


async def stops_requested(
    session: AsyncSession,
    transaction_ids: Sequence[int],
    reason: str,
    now: datetime,
    confirm_by: datetime,
) -> list[int]:
    """Of these transactions (a chunk of them, locked), the open real ones with no stop under
    way are marked stop-requested (the guard against a second stop), their answer due by
    `confirm_by`; returns their ids.

    Set-based: an expiry wave is thousands of transactions in one second, and per-row ORM work
    would delay the last stop by seconds. A Transaction already loaded in the session (a stop
    asked for through the API) is brought up to date."""
    return list(
        await session.scalars(
            update(Transaction)
            .where(
                Transaction.id.in_(transaction_ids),
                Transaction.state == TransactionState.OPEN,
                Transaction.staging.is_(False),
                Transaction.stop_state.is_(None),
            )
            .values(
                stop_requested_at=now,
                stop_reason=func.coalesce(Transaction.stop_reason, reason),
                stop_state=StopState.REQUESTED,
                stop_retry_at=confirm_by,
            )
            .returning(Transaction.id),
            execution_options={"synchronize_session": "fetch"},
        )
    )


def _stopping() -> tuple[ColumnElement[bool], ...]:
    """Open real transactions with a stop under way."""
    return (
        Transaction.state == TransactionState.OPEN,
        Transaction.staging.is_(False),
        Transaction.stop_state.is_not(None),
    )


async def due_stop_steps(session: AsyncSession, now: datetime) -> Sequence[Transaction]:
    return (
        await session.scalars(
            select(Transaction)
            .where(*_stopping(), Transaction.stop_retry_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def stops_accepted(
    session: AsyncSession, transaction_ids: Sequence[int], report_by: datetime
) -> None:
    """Stops the charger accepted: their report of the ended transaction is due by then."""
    for chunk in chunks(transaction_ids):
        await session.execute(
            update(Transaction)
            .where(
                Transaction.id.in_(chunk),
                Transaction.state == TransactionState.OPEN,
                Transaction.stop_state == StopState.REQUESTED,
            )
            .values(stop_state=StopState.ACCEPTED, stop_retry_at=report_by),
            execution_options={"synchronize_session": False},
        )


async def stops_retrying(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Transaction)
            .where(*_stopping(), Transaction.stop_attempts > 0)
        )
        or 0
    )


async def stopping_on_connector(
    session: AsyncSession, charge_point_id: str, connector_id: int
) -> Transaction | None:
    """The open transaction on this connector whose stop is under way, if any."""
    return await session.scalar(
        select(Transaction)
        .join(Port, Transaction.port_uuid == Port.port_uuid)
        .join(Charger, Port.charger_id == Charger.id)
        .where(
            *_stopping(),
            Charger.charge_point_id == charge_point_id,
            Port.connector_id == connector_id,
        )
        .limit(1)
        .with_for_update(of=Transaction)
    )


def _pending_expiring() -> tuple[ColumnElement[bool], ...]:
    """Real transactions still waiting for their charger to start, which fail at their
    expiry."""
    return (Transaction.state == TransactionState.PENDING, Transaction.staging.is_(False))


async def expired_pending(session: AsyncSession, now: datetime) -> Sequence[Transaction]:
    return (
        await session.scalars(
            select(Transaction)
            .where(*_pending_expiring(), Transaction.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class NextDue:
    """When the scheduler next has something to do."""

    # The write pass's work on sessions, commands and reservations.
    work: datetime | None
    # The sweep of Idempotency-Keys past their retention (store.idempotency.sweep).
    sweep: datetime | None

    def earliest(self) -> datetime | None:
        return min((at for at in (self.work, self.sweep) if at is not None), default=None)


def _earliest_due() -> Select[Any, datetime]:
    """The earliest time at which the write pass has work (the same conditions as its queries,
    so that the two agree), and when the oldest Idempotency-Key was taken."""
    earliest = union_all(
        select(func.min(Transaction.expires_at).label("at")).where(*_expiring()),
        select(func.min(Transaction.expires_at)).where(*_pending_expiring()),
        select(func.min(Transaction.stop_retry_at)).where(*_stopping()),
        select(func.min(QueueItem.deadline_at)).where(*queue_items.awaiting(QueueKind.START)),
        select(func.min(QueueItem.deadline_at)).where(*queue_items.awaiting(QueueKind.COMMAND)),
        select(func.min(Reservation.expires_at)).where(*reservations.expiring()),
    ).subquery()
    return select(func.min(earliest.c.at), idempotency.oldest())


# Built once: it runs on every wake-up of the scheduler, and building it costs more CPU than
# SQLite takes to answer it.
_EARLIEST_DUE = _earliest_due()


async def next_due(session: AsyncSession) -> NextDue:
    """When something is next due: at or before now, the scheduler's write pass has work."""
    work, oldest_key = (await session.execute(_EARLIEST_DUE)).one()
    sweep = None
    if oldest_key is not None:
        sweep = oldest_key + idempotency.RETENTION + idempotency.SWEEP_SLACK
    return NextDue(work, sweep)
