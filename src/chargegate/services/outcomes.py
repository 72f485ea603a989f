"""Resolving queue items and ending transactions: the only places their states change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueKind, QueueStatus, TransactionAction, TransactionState
from chargegate.domain.webhooks import EventType
from chargegate.metrics import QUEUE_OUTCOMES
from chargegate.services import fail_safe, webhooks
from chargegate.store import commands as command_store
from chargegate.store import queue_items as queue_store
from chargegate.store.models import QueueItem, Transaction


async def resolve(
    session: AsyncSession,
    item: QueueItem,
    status: QueueStatus,
    now: datetime,
    reason: str | None = None,
) -> None:
    _settle(item, status, now, reason)
    await webhooks.queue_item_event(session, item)


def _settle(item: QueueItem, status: QueueStatus, now: datetime, reason: str | None) -> None:
    item.status = status
    item.reason = reason
    item.resolved_at = now
    QUEUE_OUTCOMES.labels(item.kind, item.status, "true" if item.staging else "false").inc()


async def resolve_open_item(
    session: AsyncSession,
    transaction: Transaction,
    kind: QueueKind,
    status: QueueStatus,
    now: datetime,
    reason: str | None = None,
) -> None:
    item = await queue_store.open_queue_item(session, transaction.id, kind)
    if item is not None:
        await resolve(session, item, status, now, reason)


async def fail_start(
    session: AsyncSession, transaction: Transaction, reason: str, now: datetime
) -> None:
    """The transaction never started: it fails, and so does its start request."""
    if transaction.state != TransactionState.PENDING:
        return
    transaction.state = TransactionState.FAILED
    transaction.failure_reason = reason
    await webhooks.transaction_event(session, transaction, EventType.TRANSACTION_FAILED)
    await resolve_open_item(session, transaction, QueueKind.START, QueueStatus.FAILURE, now, reason)
    await command_store.cancel_for_transaction(session, transaction.id, TransactionAction.START)


async def open_transaction(
    session: AsyncSession,
    transaction: Transaction,
    started_at: datetime,
    meter_start_wh: int | None,
    now: datetime,
) -> None:
    transaction.state = TransactionState.OPEN
    transaction.started_at = started_at
    transaction.meter_start_wh = meter_start_wh
    transaction.meter_last_wh = meter_start_wh
    await webhooks.transaction_event(session, transaction, EventType.TRANSACTION_OPENED)
    await resolve_open_item(session, transaction, QueueKind.START, QueueStatus.SUCCESS, now)
    # The expiry may have moved while the start (and its TxProfile) was on its way.
    await fail_safe.move(session, transaction, now)


async def adopt(
    session: AsyncSession, ours: Transaction, begun: Transaction, now: datetime
) -> None:
    """The transaction a charger began by itself (cable first) is the one our pending start
    asked for: ours takes its id and start, and the charger's record goes, so that exactly one
    row holds the charger's transaction id."""
    charger_transaction_id = begun.charger_transaction_id
    started_at, meter_start_wh = begun.started_at or now, begun.meter_start_wh
    await session.delete(begun)
    await session.flush()
    ours.charger_transaction_id = charger_transaction_id
    await open_transaction(session, ours, started_at, meter_start_wh, now)


class Closing:
    """Transactions closed together, each as close_transaction closes one, with a few statements
    for all their queue items, commands and webhook events: an expiry wave's stop reports close
    thousands in one write, and statements per transaction held the writer for seconds."""

    def __init__(self, session: AsyncSession, now: datetime, items: dict[int, QueueItem]) -> None:
        self._session = session
        self._now = now
        # The open STOP queue items of the transactions to close, by transaction id.
        self._items = items
        self._events: list[webhooks.Event] = []
        self._closed: list[int] = []

    def close(
        self,
        transaction: Transaction,
        ended_at: datetime,
        meter_stop_wh: int | None,
        reason: str,
    ) -> None:
        """The events carry the transaction as it is now, whatever changes before finish."""
        transaction.state = TransactionState.CLOSED
        transaction.ended_at = ended_at
        if meter_stop_wh is not None:
            transaction.meter_stop_wh = meter_stop_wh
            transaction.meter_last_wh = meter_stop_wh
        transaction.stop_reason = transaction.stop_reason or reason
        event = webhooks.transaction_event_of(transaction, EventType.TRANSACTION_CLOSED)
        if event is not None:
            self._events.append(event)
        item = self._items.pop(transaction.id, None)
        if item is not None:
            _settle(item, QueueStatus.SUCCESS, self._now, None)
            self._events.append(webhooks.queue_item_event_of(item, transaction))
        self._closed.append(transaction.id)

    async def finish(self) -> None:
        await webhooks.emit_all(self._session, self._events)
        await command_store.cancel_for_transactions(
            self._session, self._closed, (TransactionAction.STOP, TransactionAction.RECONCILE)
        )


async def closing(
    session: AsyncSession, transactions: Iterable[Transaction], now: datetime
) -> Closing:
    """For closing (some of) these transactions, each once, then finish."""
    ids = [transaction.id for transaction in transactions]
    return Closing(session, now, await queue_store.open_queue_items(session, ids, QueueKind.STOP))


async def close_transaction(
    session: AsyncSession,
    transaction: Transaction,
    ended_at: datetime,
    meter_stop_wh: int | None,
    reason: str,
    now: datetime,
) -> None:
    batch = await closing(session, [transaction], now)
    batch.close(transaction, ended_at, meter_stop_wh, reason)
    await batch.finish()


# Closed on the charger's word, when asked, that nothing runs.
NOT_RUNNING = "charger:NotRunning"


async def close_not_running(
    session: AsyncSession, transaction: Transaction, ended_at: datetime, now: datetime
) -> None:
    await close_transaction(session, transaction, ended_at, None, NOT_RUNNING, now)


def complete_stop(
    transaction: Transaction, ended_at: datetime, meter_stop_wh: int | None, said: str
) -> None:
    """The charger's stop report for a transaction we closed without one (it said nothing ran
    when asked while the report was still queued, the operator gave up on the stop, a new start
    superseded it): its time, meter reading and reason (`said`) are the true ones, so the
    session's end and energy are taken from it, once."""
    if (
        transaction.state != TransactionState.CLOSED
        or transaction.started_at is None  # cancelled before it began
        or transaction.staging
        or transaction.meter_stop_wh is not None
    ):
        return
    transaction.ended_at = ended_at
    transaction.charger_stop_reason = said
    if meter_stop_wh is not None:
        transaction.meter_stop_wh = meter_stop_wh
        transaction.meter_last_wh = meter_stop_wh
