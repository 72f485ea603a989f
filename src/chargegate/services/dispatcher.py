"""The outbox dispatcher: claims due commands for chargers connected here and sends them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.config import Settings
from chargegate.domain.states import (
    CommandAction,
    CommandStatus,
    Liveness,
    TransactionOrigin,
    TransactionState,
)
from chargegate.domain.times import utcnow
from chargegate.metrics import EXPIRY_DELAY
from chargegate.services import outcomes, stops
from chargegate.services.group_commit import DeadLetter, GroupCommit
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store import transactions as tx_store
from chargegate.store.commands import Claimed
from chargegate.store.models import Transaction

log = logging.getLogger(__name__)

# After this many undelivered attempts (timeouts, dropped connections) a command gives up.
MAX_ATTEMPTS = 5
# Why a command whose answer the database refused counts as undelivered.
UNSTORABLE_ANSWER = "the charger's answer could not be stored"


@dataclass(frozen=True, slots=True)
class Order:
    """A command as the charger side needs it, independent of the OCPP version."""

    action: CommandAction
    connector_id: int
    id_tag: str
    # Ours (also the 1.6 transactionId and the 2.0.1 remoteStartId), and the 2.0.1 charger's.
    transaction_id: int
    charger_transaction_id: str | None
    expires_at: datetime | None
    # Carry a TxProfile that ends charging at expires_at (the charger takes profiles).
    fail_safe: bool
    fail_safe_limit_a: float
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    accepted: bool
    detail: str
    # A 2.0.1 charger may name its transaction in the answer to a start.
    charger_transaction_id: str | None = None
    # The answer to a reconcile: whether the transaction still runs at the charger.
    liveness: Liveness = Liveness.UNKNOWN


class NotDelivered(Exception):
    """The order did not reach the charger, or its answer did not reach us."""


class ChargerLink(Protocol):
    """Sends orders to chargers whose sockets this node holds (implemented by the OCPP layer)."""

    async def execute(self, charge_point_id: str, epoch: int, order: Order) -> Reply: ...


@dataclass(frozen=True, slots=True)
class _Claim:
    command_id: int
    charge_point_id: str
    epoch: int
    order: Order


class Dispatcher:
    def __init__(self, rt: Runtime, link: ChargerLink) -> None:
        self._rt = rt
        self._link = link
        self._in_flight: set[asyncio.Task[None]] = set()
        self._answers: GroupCommit[tuple[_Claim, Reply | str]] = GroupCommit(
            self._write,
            "command_answers",
            keep_failed=True,
            describe=lambda answer: {"command_id": answer[0].command_id},
        )

    async def run(self) -> None:
        while True:
            try:
                # Answers that could not be written earlier (the database was unavailable).
                await self._answers.flush()
                await self.dispatch_due()
            except Exception:
                log.exception("dispatcher pass failed; retrying")
            await self._rt.bus.wait(Topic.DISPATCH, self._rt.settings.poll_interval_s)

    async def dispatch_due(self) -> None:
        # A full batch means more may be due right now (thousands of expiries in one second):
        # claim on instead of waiting for the next wake-up.
        full = True
        while full and not self._rt.node.draining:
            claims = await self._claim()
            for claim in claims:
                task = asyncio.create_task(self._deliver(claim))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            full = len(claims) >= command_store.CLAIM_BATCH

    async def _claim(self) -> list[_Claim]:
        settings = self._rt.settings
        lease = timedelta(seconds=settings.call_timeout_s * 2)
        settle = timedelta(seconds=settings.resend_settle_s)
        async with self._rt.sessions() as session, session.begin():
            rows = await command_store.claim_due(session, settings.node_id, utcnow(), lease, settle)
            needed: list[Claimed] = []
            overtaken: list[int] = []
            for row in rows:
                if _still_needed(row):
                    needed.append(row)
                else:
                    overtaken.append(row.command_id)
            await command_store.cancel(session, overtaken)
        return [
            _Claim(
                command_id=row.command_id,
                charge_point_id=row.charge_point_id,
                epoch=row.epoch,
                order=_order(row, settings.tx_profile_limit_a),
            )
            for row in needed
        ]

    async def _deliver(self, claim: _Claim) -> None:
        outcome: Reply | str
        reconciling = (claim.charge_point_id, claim.order.connector_id)
        if claim.order.action is CommandAction.RECONCILE:
            self._rt.node.reconciling.add(reconciling)
        try:
            outcome = await self._link.execute(claim.charge_point_id, claim.epoch, claim.order)
        except NotDelivered as exc:
            outcome = str(exc)
        except Exception:
            log.exception("sending a command failed", extra={"command_id": claim.command_id})
            outcome = "internal error while sending"
        if claim.order.action is CommandAction.RECONCILE and not (
            isinstance(outcome, Reply) and outcome.accepted
        ):
            # No status report is coming, so a later one is not the answer to this question.
            self._rt.node.reconciling.discard(reconciling)
        await self._record(claim, outcome)

    async def _record(self, claim: _Claim, outcome: Reply | str) -> None:
        """Returns once this answer is written. Group-committed: a burst of answers (an expiry
        wave) costs a few commits, not one each."""
        order = claim.order
        if (
            order.action is CommandAction.STOP
            and isinstance(outcome, Reply)
            and order.expires_at is not None
            and order.expires_at <= order.issued_at
        ):
            EXPIRY_DELAY.observe((utcnow() - order.expires_at).total_seconds())
        try:
            await self._answers.add((claim, outcome))
        except DeadLetter:
            if isinstance(outcome, str):
                # Not even "undelivered" could be written: the command stays claimed by this
                # node, unsent, until it restarts (release_node_claims).
                log.error("a command's outcome was lost", extra={"command_id": claim.command_id})
                return
            # The answer cannot be stored (the group commit dropped it rather than retry it for
            # ever): the command goes the way of one whose answer never came, resent or failed.
            await self._record(claim, UNSTORABLE_ANSWER)

    async def _write(self, batch: list[tuple[_Claim, Reply | str]]) -> None:
        now = utcnow()
        settings = self._rt.settings
        # Plain acceptances (most stops) are one statement per distinct answer text; the rest
        # change more than the command and go row by row.
        plain: dict[str, list[int]] = {}
        stops_accepted: list[int] = []
        async with self._rt.sessions() as session, session.begin():
            for claim, outcome in batch:
                if isinstance(outcome, Reply) and _plain(claim, outcome):
                    plain.setdefault(outcome.detail, []).append(claim.command_id)
                    if claim.order.action is CommandAction.STOP:
                        stops_accepted.append(claim.order.transaction_id)
                elif isinstance(outcome, Reply):
                    await _delivered(session, claim, outcome, now, settings)
                else:
                    await _undelivered(session, claim, outcome, now, settings)
            for detail, command_ids in plain.items():
                await command_store.mark_delivered(session, command_ids, detail, now)
            await tx_store.stops_accepted(
                session, stops_accepted, now + timedelta(seconds=settings.stop_confirm_s)
            )

    async def finish_in_flight(self, timeout: float) -> None:
        """Let commands already being sent get their answers (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)


def _plain(claim: _Claim, reply: Reply) -> bool:
    return (
        reply.accepted
        and claim.order.action in (CommandAction.START, CommandAction.STOP)
        and not claim.order.fail_safe
        and not reply.charger_transaction_id
    )


async def _delivered(
    session: AsyncSession, claim: _Claim, reply: Reply, now: datetime, settings: Settings
) -> None:
    command = await command_store.get_command(session, claim.command_id)
    if command is None:
        return
    command.status = CommandStatus.DONE.value
    command.sent_at = now
    command.result = reply.detail
    command.in_doubt = False
    transaction = await tx_store.locked(session, claim.order.transaction_id)
    if transaction is None:
        return
    action = claim.order.action
    match action:
        case CommandAction.START:
            if not reply.accepted:
                await outcomes.fail_start(session, transaction, reply.detail, now)
                return
            if claim.order.fail_safe:
                transaction.profile_until = claim.order.expires_at
            if reply.charger_transaction_id:
                await _named(session, transaction, command.charger_id, reply, now)
        case CommandAction.STOP:
            await stops.answered(
                session, transaction, reply.accepted, reply.detail, "refused", now, settings
            )
        case CommandAction.PROFILE:
            if reply.accepted:
                transaction.profile_until = claim.order.expires_at
            else:
                # The fail-safe could not be moved; the stop at expiry is still ours to send.
                log.warning(
                    "charger refused the TxProfile update",
                    extra={"transaction_id": transaction.id, "reason": reply.detail},
                )
        case CommandAction.RECONCILE:
            await stops.reconciled(session, transaction, reply.liveness, now, settings)
        case _:
            assert_never(action)


async def _named(
    session: AsyncSession, transaction: Transaction, charger_id: int, reply: Reply, now: datetime
) -> None:
    """The charger named its transaction in its answer to our start. If it reported that
    transaction already (begun before our start: cable first), the two are one."""
    assert reply.charger_transaction_id is not None
    if transaction.charger_transaction_id is not None:
        return  # its report of the started transaction came first and named it
    known = await tx_store.charger_transaction_by_id(
        session, charger_id, reply.charger_transaction_id
    )
    if known is None:
        transaction.charger_transaction_id = reply.charger_transaction_id
    elif known.origin == TransactionOrigin.CHARGER.value and (
        transaction.state == TransactionState.PENDING.value
    ):
        await outcomes.adopt(session, transaction, known, now)
    elif known.id != transaction.id:
        log.warning(
            "a start answer names a transaction that is already another session's",
            extra={"transaction_id": transaction.id, "named": reply.charger_transaction_id},
        )


async def _undelivered(
    session: AsyncSession, claim: _Claim, why: str, now: datetime, settings: Settings
) -> None:
    command = await command_store.get_command(session, claim.command_id)
    if command is None or command.status != CommandStatus.SENDING.value:
        return
    command.result = why
    if command.attempts < MAX_ATTEMPTS:
        # Back in the outbox: it goes out again when the charger is (re)connected.
        command.status = CommandStatus.PENDING.value
        command.lease_until = None
        return
    command.status = CommandStatus.DONE.value
    reason = (
        f"Charger {claim.charge_point_id} did not answer after {command.attempts} attempts ({why})"
    )
    transaction = await tx_store.locked(session, claim.order.transaction_id)
    if transaction is None:
        return
    action = claim.order.action
    match action:
        case CommandAction.START:
            await outcomes.fail_start(session, transaction, reason, now)
        case CommandAction.STOP:
            await stops.answered(session, transaction, False, reason, "undelivered", now, settings)
        case CommandAction.PROFILE:
            log.warning(
                "the TxProfile update did not reach the charger",
                extra={"transaction_id": transaction.id, "reason": reason},
            )
        case CommandAction.RECONCILE:
            await stops.reconciled(session, transaction, Liveness.UNKNOWN, now, settings)
        case _:
            assert_never(action)


def _still_needed(row: Claimed) -> bool:
    """A start is only sent for a pending transaction, the rest only for an open one."""
    action = row.action
    match action:
        case CommandAction.START:
            return row.transaction_state == TransactionState.PENDING.value
        case CommandAction.PROFILE:
            return row.transaction_state == TransactionState.OPEN.value and (
                row.profile_until != row.expires_at
            )
        case CommandAction.STOP | CommandAction.RECONCILE:
            return row.transaction_state == TransactionState.OPEN.value
        case _:
            assert_never(action)


def _order(row: Claimed, limit_a: float) -> Order:
    return Order(
        action=row.action,
        connector_id=row.connector_id,
        id_tag=row.id_tag,
        transaction_id=row.transaction_id,
        charger_transaction_id=row.charger_transaction_id,
        expires_at=row.expires_at,
        fail_safe=row.action in (CommandAction.START, CommandAction.PROFILE)
        and row.smart_charging
        and row.expires_at is not None,
        fail_safe_limit_a=limit_a,
        issued_at=utcnow(),
    )
