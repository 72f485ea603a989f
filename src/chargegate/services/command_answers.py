"""What a command's answer, or its failure to arrive, does: to the command, to its transaction
or queue item. Written in batches by the dispatcher's group commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.config import Settings
from chargegate.domain.states import (
    ChargerAction,
    CommandStatus,
    Liveness,
    QueueStatus,
    ReservationAction,
    TransactionAction,
    TransactionOrigin,
    TransactionState,
)
from chargegate.services import (
    charger_configuration,
    charging_profiles,
    fail_safe,
    local_lists,
    outcomes,
    reservation_outcomes,
    stops,
)
from chargegate.services.commands import Order, Reply
from chargegate.store import commands as command_store
from chargegate.store import due as due_store
from chargegate.store import queue_items as queue_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Command, QueueItem, Transaction

log = logging.getLogger(__name__)

# After this many undelivered attempts (timeouts, dropped connections) a command gives up.
MAX_ATTEMPTS = 5
# Why a command whose answer the database refused counts as undelivered.
UNSTORABLE_ANSWER = "the charger's answer could not be stored"


@dataclass(frozen=True, slots=True)
class Claim:
    """A command this node claimed and sends."""

    command_id: int
    charge_point_id: str
    epoch: int
    order: Order
    # The queue item an API caller follows a command on a charger by.
    queue_uuid: str | None = None


async def write(
    session: AsyncSession, batch: list[tuple[Claim, Reply | str]], now: datetime, settings: Settings
) -> None:
    """Each claim's answer (a Reply), or why it was not delivered (a str).

    The batch's transactions are locked first, in id order, then the queue items of its
    commands on chargers, and only then are commands written: the order of a charger's report
    and of a PATCH (store.transactions.lock_in_order). A batch that took its commands first
    deadlocked with the charger's report of the stop it had just accepted."""
    await tx_store.lock_in_order(
        session,
        (
            claim.order.on_transaction.id
            for claim, _ in batch
            if isinstance(claim.order.action, TransactionAction)
        ),
    )
    await queue_store.lock_in_order(
        session, (claim.queue_uuid for claim, _ in batch if claim.queue_uuid is not None)
    )
    # Plain acceptances (most stops) are one statement per distinct answer text; the rest
    # change more than the command and go row by row.
    plain: dict[str, list[int]] = {}
    stops_accepted: list[int] = []
    for claim, outcome in batch:
        if isinstance(outcome, Reply) and _plain(claim.order, outcome):
            plain.setdefault(outcome.detail, []).append(claim.command_id)
            if claim.order.action is TransactionAction.STOP:
                stops_accepted.append(claim.order.on_transaction.id)
        elif isinstance(outcome, Reply):
            await _delivered(session, claim, outcome, now, settings)
        else:
            await _undelivered(session, claim, outcome, now, settings)
    for detail, command_ids in plain.items():
        await command_store.mark_delivered(session, command_ids, detail, now)
    await due_store.stops_accepted(
        session, stops_accepted, now + timedelta(seconds=settings.stop_confirm_s)
    )


def _plain(order: Order, reply: Reply) -> bool:
    return (
        reply.accepted
        and order.action in (TransactionAction.START, TransactionAction.STOP)
        and not order.on_transaction.fail_safe
        and not reply.charger_transaction_id
    )


async def _delivered(
    session: AsyncSession, claim: Claim, reply: Reply, now: datetime, settings: Settings
) -> None:
    command = await command_store.get_command(session, claim.command_id)
    if command is None:
        return
    command.status = CommandStatus.DONE
    command.sent_at = now
    command.result = reply.detail
    command.answer = reply.answer
    command.in_doubt = False
    order = claim.order
    action = order.action
    if isinstance(action, ChargerAction | ReservationAction):
        await charging_profiles.answered(session, command, order, reply)
        if reply.local_list is not None:
            await local_lists.answered(
                session, claim.charge_point_id, action, reply.local_list, now
            )
        if await charger_configuration.answered(
            session, command, order, reply, now, settings.command_timeout_s
        ):
            return  # a report follows in parts: the last one resolves the queue item
        status = QueueStatus.SUCCESS if reply.accepted else QueueStatus.FAILURE
        await _resolve_item(session, claim, status, now, None if reply.accepted else reply.detail)
        if isinstance(action, ReservationAction):
            await reservation_outcomes.answered(
                session, command, action, reply.accepted, reply.detail, now
            )
        return
    transaction = await tx_store.locked(session, order.on_transaction.id)
    if transaction is None:
        return
    match action:
        case TransactionAction.START:
            if not reply.accepted:
                await outcomes.fail_start(session, transaction, reply.detail, now)
                return
            fail_safe.taken(transaction, order.on_transaction)
            if reply.charger_transaction_id:
                await _named(session, transaction, command, reply, now)
        case TransactionAction.STOP:
            await stops.answered(
                session, transaction, reply.accepted, reply.detail, "refused", now, settings
            )
        case TransactionAction.PROFILE:
            if reply.accepted:
                fail_safe.taken(transaction, order.on_transaction)
            else:
                # The fail-safe could not be moved; the stop at expiry is still ours to send.
                log.warning(
                    "charger refused the TxProfile update",
                    extra={"transaction_id": transaction.id, "reason": reply.detail},
                )
        case TransactionAction.RECONCILE:
            await stops.reconciled(session, transaction, reply.liveness, now, settings)
        case _:
            assert_never(action)


async def _named(
    session: AsyncSession, transaction: Transaction, command: Command, reply: Reply, now: datetime
) -> None:
    """The charger named its transaction in its answer to our start. If it reported that
    transaction already (begun before our start: cable first), the two are one."""
    assert reply.charger_transaction_id is not None
    if transaction.charger_transaction_id is not None:
        return  # its report of the started transaction came first and named it
    known = await tx_store.charger_transaction_by_id(
        session, command.charger_id, reply.charger_transaction_id
    )
    if known is None:
        transaction.charger_transaction_id = reply.charger_transaction_id
    elif known.origin == TransactionOrigin.CHARGER and (
        transaction.state == TransactionState.PENDING
    ):
        await outcomes.adopt(session, transaction, known, now)
    elif known.id != transaction.id:
        log.warning(
            "a start answer names a transaction that is already another session's",
            extra={"transaction_id": transaction.id, "named": reply.charger_transaction_id},
        )


async def _undelivered(
    session: AsyncSession, claim: Claim, why: str, now: datetime, settings: Settings
) -> None:
    command = await command_store.get_command(session, claim.command_id)
    if command is None or command.status != CommandStatus.SENDING:
        return
    command.result = why
    if command.attempts < MAX_ATTEMPTS:
        # Back in the outbox: it goes out again when the charger is (re)connected.
        command.status = CommandStatus.PENDING
        command.lease_until = None
        return
    command.status = CommandStatus.DONE
    reason = (
        f"Charger {claim.charge_point_id} did not answer after {command.attempts} attempts ({why})"
    )
    action = claim.order.action
    if isinstance(action, ChargerAction | ReservationAction):
        if action is ChargerAction.SEND_LOCAL_LIST:
            await local_lists.undelivered(session, claim.charge_point_id, reason)
        await _resolve_item(session, claim, QueueStatus.FAILURE, now, reason)
        await reservation_outcomes.undelivered(session, command, reason, now)
        return
    transaction = await tx_store.locked(session, claim.order.on_transaction.id)
    if transaction is None:
        return
    match action:
        case TransactionAction.START:
            await outcomes.fail_start(session, transaction, reason, now)
        case TransactionAction.STOP:
            await stops.answered(session, transaction, False, reason, "undelivered", now, settings)
        case TransactionAction.PROFILE:
            log.warning(
                "the TxProfile update did not reach the charger",
                extra={"transaction_id": transaction.id, "reason": reason},
            )
        case TransactionAction.RECONCILE:
            await stops.reconciled(session, transaction, Liveness.UNKNOWN, now, settings)
        case _:
            assert_never(action)


async def _resolve_item(
    session: AsyncSession, claim: Claim, status: QueueStatus, now: datetime, reason: str | None
) -> None:
    """The queue item of a command on a charger, unless its deadline has failed it already."""
    if claim.queue_uuid is None:
        return
    item = await session.get(QueueItem, claim.queue_uuid, with_for_update=True)
    if item is not None and item.status == QueueStatus.IN_PROGRESS:
        await outcomes.resolve(session, item, status, now, reason)
