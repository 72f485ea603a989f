"""Stops that take. A stop the charger refuses, cannot be sent, or accepts and never reports is
tried again with backoff, each time after asking the charger whether the transaction still runs,
until the transaction is closed, or until the operator gives up on it explicitly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.config import Settings
from chargegate.domain.errors import Conflict
from chargegate.domain.states import (
    Liveness,
    QueueKind,
    QueueStatus,
    StopState,
    TransactionAction,
    TransactionState,
)
from chargegate.domain.times import backoff, utcnow
from chargegate.domain.webhooks import EventType
from chargegate.metrics import STOP_FAILURES
from chargegate.services import outcomes, webhooks
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store import due as due_store
from chargegate.store import transactions as tx_store
from chargegate.store.chunks import chunks
from chargegate.store.claims import Lease
from chargegate.store.models import QueueItem, Transaction

log = logging.getLogger(__name__)

Cause = Literal["refused", "undelivered", "unreported"]


@dataclass(frozen=True, slots=True)
class Requested:
    """The stops a request put in the outbox: how many, and which of them it wrote claimed by
    its lease's node (command ids, for that node's dispatcher: NodeState.claimed_here)."""

    count: int
    claimed: list[int]


async def request(
    session: AsyncSession,
    transaction_ids: Sequence[int],
    reason: str,
    now: datetime,
    settings: Settings,
    lease: Lease | None = None,
) -> Requested:
    """Stop these transactions, locked by the caller: one (PATCH state: closed) or a whole
    expiry wave. Each open one without a stop under way gets a stop in the outbox and is
    followed until it is closed; stop_requested_at guards against a second one. With a lease,
    the stops for chargers connected to its node are written claimed (command_store.add_stops).

    Set-based, two statements per chunk of transactions whichever the caller: an expiry wave is
    thousands in one second, and per-row ORM work would delay the last stop by seconds."""
    confirm_by = now + timedelta(seconds=settings.stop_confirm_s)
    count = 0
    claimed: list[int] = []
    for chunk in chunks(transaction_ids):
        stopping = await due_store.stops_requested(session, chunk, reason, now, confirm_by)
        if stopping:
            claimed += await command_store.add_stops(session, stopping, now, lease)
            count += len(stopping)
    return Requested(count, claimed)


def stuck(transaction: Transaction) -> bool:
    """Whether the transaction's stop has not taken at least once and is still being tried."""
    return transaction.stop_state is not None and transaction.stop_attempts > 0


async def answered(
    session: AsyncSession,
    transaction: Transaction,
    accepted: bool,
    detail: str,
    cause: Cause,
    now: datetime,
    settings: Settings,
) -> None:
    """The charger's answer to a stop, or the lack of one after every attempt to send it."""
    if not _stopping(transaction):
        return
    if accepted:
        transaction.stop_state = StopState.ACCEPTED
        transaction.stop_retry_at = now + timedelta(seconds=settings.stop_confirm_s)
        return
    await _did_not_take(session, transaction, cause, detail, now, settings)


async def reconciled(
    session: AsyncSession,
    transaction: Transaction,
    liveness: Liveness,
    now: datetime,
    settings: Settings,
) -> None:
    """What the charger said when asked whether the transaction still runs."""
    if not _stopping(transaction):
        return
    match liveness:
        case Liveness.ENDED:
            await outcomes.close_not_running(session, transaction, now, now)
        case Liveness.REPORT_COMING:
            transaction.stop_retry_at = now + timedelta(seconds=settings.reconcile_wait_s)
        case Liveness.RUNNING | Liveness.UNKNOWN:
            charger = await tx_store.transaction_charger(session, transaction)
            _send(
                session,
                transaction,
                charger.id,
                TransactionAction.STOP,
                now,
                settings.stop_confirm_s,
            )
        case _:
            assert_never(liveness)


async def take_due_steps(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Move on every stop whose next step is due: count an attempt that was never answered or
    reported as not taken, and after the backoff, ask the charger again. Returns how many
    commands that put in the outbox."""
    sent = 0
    for transaction in await due_store.due_stop_steps(session, now):
        if await _in_outbox(session, transaction):
            # Waiting for the charger to be back (or for its answer): that comes first.
            transaction.stop_retry_at = now + timedelta(seconds=settings.stop_confirm_s)
            continue
        assert transaction.stop_state is not None  # due_stop_steps selects stops under way
        state = transaction.stop_state
        match state:
            case StopState.REQUESTED:
                await _did_not_take(
                    session,
                    transaction,
                    "undelivered",
                    "The charger's answer to the stop request was never recorded",
                    now,
                    settings,
                )
            case StopState.ACCEPTED:
                await _did_not_take(
                    session,
                    transaction,
                    "unreported",
                    "The charger accepted the stop but did not report the transaction ended "
                    f"within {settings.stop_confirm_s:g} s",
                    now,
                    settings,
                )
            case StopState.RETRYING | StopState.RECONCILING:
                action = (
                    TransactionAction.RECONCILE
                    if state is StopState.RETRYING
                    else TransactionAction.STOP
                )
                charger = await tx_store.transaction_charger(session, transaction)
                _send(session, transaction, charger.id, action, now, settings.stop_confirm_s)
                sent += 1
            case _:
                assert_never(state)
    return sent


def retry_now(transaction: Transaction, now: datetime) -> None:
    """The operator asks again (PATCH state: closed): the next attempt need not wait."""
    if transaction.stop_state == StopState.RETRYING:
        transaction.stop_retry_at = now


async def withdraw(session: AsyncSession, transaction: Transaction, now: datetime) -> None:
    """A stuck stop is called off (the expiry was moved): the session runs on, and ends at its
    new expiry like any other."""
    transaction.stop_requested_at = transaction.stop_state = transaction.stop_retry_at = None
    transaction.stop_reason = None
    await _cancel_commands(session, transaction)
    await outcomes.resolve_open_item(
        session,
        transaction,
        QueueKind.STOP,
        QueueStatus.FAILURE,
        now,
        "Withdrawn: the expiry was changed while the stop was being retried",
    )


async def abandon(
    session: AsyncSession, transaction: Transaction, item: QueueItem, now: datetime
) -> None:
    """The operator gives up on a stop the charger does not take: the transaction is closed in
    chargegate without the charger's word, and no more attempts are made."""
    if not stuck(transaction):
        raise Conflict(
            f"Transaction {transaction.transaction_uuid} has no stop that failed to take; "
            "force is only for giving up on such a stop (send state: closed without it)"
        )
    await _cancel_commands(session, transaction)
    await outcomes.resolve(
        session,
        item,
        QueueStatus.FAILURE,
        now,
        f"Abandoned by the operator after {transaction.stop_attempts} stop attempts that did "
        f"not take ({transaction.stop_error}); the charger never confirmed the stop",
    )
    transaction.stop_reason = "abandoned"
    await outcomes.close_transaction(session, transaction, now, None, "abandoned", now)


async def connector_reported(
    rt: Runtime, charge_point_id: str, connector_id: int, idle: bool, at: datetime
) -> None:
    """A charger we asked about a stuck stop reports the connector's status. The first report
    answers the question: idle means nothing runs there; busy means the transaction still runs,
    and a later idle status (the stop that finally takes) is the transaction's own to report."""
    key = (charge_point_id, connector_id)
    if key not in rt.node.reconciling:
        return
    rt.node.reconciling.discard(key)
    if not idle:
        return
    async with rt.sessions() as session, session.begin():
        transaction = await due_store.stopping_on_connector(session, charge_point_id, connector_id)
        if transaction is not None:
            await outcomes.close_not_running(session, transaction, at, utcnow())
    rt.bus.wake(Topic.BALANCE)


def _stopping(transaction: Transaction) -> bool:
    return transaction.state == TransactionState.OPEN and transaction.stop_state is not None


def _send(
    session: AsyncSession,
    transaction: Transaction,
    charger_id: int,
    action: TransactionAction,
    now: datetime,
    wait_s: float,
) -> None:
    state = StopState.REQUESTED if action is TransactionAction.STOP else StopState.RECONCILING
    transaction.stop_state = state
    transaction.stop_retry_at = now + timedelta(seconds=wait_s)
    command_store.add_command(
        session, charger_id=charger_id, transaction_id=transaction.id, action=action, now=now
    )


async def _did_not_take(
    session: AsyncSession,
    transaction: Transaction,
    cause: Cause,
    reason: str,
    now: datetime,
    settings: Settings,
) -> None:
    transaction.stop_attempts += 1
    transaction.stop_error = reason
    transaction.stop_state = StopState.RETRYING
    transaction.stop_retry_at = now + backoff(
        transaction.stop_attempts,
        timedelta(seconds=settings.stop_retry_base_s),
        timedelta(seconds=settings.stop_retry_max_s),
    )
    STOP_FAILURES.labels(cause).inc()
    log.warning(
        "a stop did not take; it will be tried again",
        extra={
            "transaction_uuid": transaction.transaction_uuid,
            "cause": cause,
            "attempts": transaction.stop_attempts,
            "reason": reason,
        },
    )
    await webhooks.transaction_event(session, transaction, EventType.TRANSACTION_STOP_FAILED)


async def _in_outbox(session: AsyncSession, transaction: Transaction) -> bool:
    return await command_store.has_outstanding(
        session, transaction.id, TransactionAction.STOP
    ) or await command_store.has_outstanding(session, transaction.id, TransactionAction.RECONCILE)


async def _cancel_commands(session: AsyncSession, transaction: Transaction) -> None:
    for action in (TransactionAction.STOP, TransactionAction.RECONCILE):
        await command_store.cancel_for_transaction(session, transaction.id, action)
