"""The outbox dispatcher: claims due commands for chargers connected here and sends them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.states import (
    CommandAction,
    CommandStatus,
    QueueKind,
    QueueStatus,
    TransactionState,
)
from chargegate.domain.times import utcnow
from chargegate.metrics import EXPIRY_DELAY
from chargegate.services import outcomes
from chargegate.services.group_commit import GroupCommit
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store.commands import Claimed
from chargegate.store.models import Transaction

log = logging.getLogger(__name__)

# After this many undelivered attempts (timeouts, dropped connections) a command gives up.
MAX_ATTEMPTS = 5


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
            self._write, "command answers", keep_failed=True
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
        try:
            outcome = await self._link.execute(claim.charge_point_id, claim.epoch, claim.order)
        except NotDelivered as exc:
            outcome = str(exc)
        except Exception:
            log.exception("sending a command failed", extra={"command_id": claim.command_id})
            outcome = "internal error while sending"
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
        await self._answers.add((claim, outcome))

    async def _write(self, batch: list[tuple[_Claim, Reply | str]]) -> None:
        now = utcnow()
        # Plain acceptances (most stops) are one statement per distinct answer text; the rest
        # change more than the command and go row by row.
        plain: dict[str, list[int]] = {}
        async with self._rt.sessions() as session, session.begin():
            for claim, outcome in batch:
                if isinstance(outcome, Reply) and _plain(claim, outcome):
                    plain.setdefault(outcome.detail, []).append(claim.command_id)
                elif isinstance(outcome, Reply):
                    await _delivered(session, claim, outcome, now)
                else:
                    await _undelivered(session, claim, outcome, now)
            for detail, command_ids in plain.items():
                await command_store.mark_delivered(session, command_ids, detail, now)

    async def finish_in_flight(self, timeout: float) -> None:
        """Let commands already being sent get their answers (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)


def _plain(claim: _Claim, reply: Reply) -> bool:
    return reply.accepted and not claim.order.fail_safe and not reply.charger_transaction_id


async def _delivered(session: AsyncSession, claim: _Claim, reply: Reply, now: datetime) -> None:
    command = await command_store.get_command(session, claim.command_id)
    if command is None:
        return
    command.status = CommandStatus.DONE.value
    command.sent_at = now
    command.result = reply.detail
    command.in_doubt = False
    if not reply.accepted:
        await _refused(session, claim.order, reply.detail, now)
        return
    transaction = await session.get(Transaction, claim.order.transaction_id)
    if transaction is None:
        return
    if claim.order.fail_safe:
        transaction.profile_until = claim.order.expires_at
    if reply.charger_transaction_id and transaction.charger_transaction_id is None:
        transaction.charger_transaction_id = reply.charger_transaction_id


async def _undelivered(session: AsyncSession, claim: _Claim, why: str, now: datetime) -> None:
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
    await _refused(session, claim.order, reason, now)


def _still_needed(row: Claimed) -> bool:
    """A start is only sent for a pending transaction, a stop or profile only for an open one."""
    if row.action is CommandAction.START:
        return row.transaction_state == TransactionState.PENDING.value
    if row.action is CommandAction.PROFILE:
        return row.transaction_state == TransactionState.OPEN.value and (
            row.profile_until != row.expires_at
        )
    return row.transaction_state == TransactionState.OPEN.value


async def _refused(session: AsyncSession, order: Order, reason: str, now: datetime) -> None:
    """The charger said no (or never answered): the request this command served fails."""
    transaction = await session.get(Transaction, order.transaction_id)
    if transaction is None:
        return
    if order.action is CommandAction.START:
        await outcomes.fail_start(session, transaction, reason, now)
    elif order.action is CommandAction.STOP:
        await outcomes.resolve_open_item(
            session, transaction, QueueKind.STOP, QueueStatus.FAILURE, now, reason
        )
    else:
        # The fail-safe could not be moved; the stop at expiry is still ours to send.
        log.warning(
            "charger refused the TxProfile update",
            extra={"transaction_id": transaction.id, "reason": reason},
        )


def _order(row: Claimed, limit_a: float) -> Order:
    return Order(
        action=row.action,
        connector_id=row.connector_id,
        id_tag=row.id_tag,
        transaction_id=row.transaction_id,
        charger_transaction_id=row.charger_transaction_id,
        expires_at=row.expires_at,
        fail_safe=row.action is not CommandAction.STOP
        and row.smart_charging
        and row.expires_at is not None,
        fail_safe_limit_a=limit_a,
        issued_at=utcnow(),
    )
