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
from chargegate.services import outcomes
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store.models import Charger, Command, Port, Transaction

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

    async def run(self) -> None:
        while True:
            try:
                await self.dispatch_due()
            except Exception:
                log.exception("dispatcher pass failed; retrying")
            await self._rt.bus.wait(Topic.DISPATCH, self._rt.settings.poll_interval_s)

    async def dispatch_due(self) -> None:
        if self._rt.node.draining:
            return  # what is not claimed yet goes out from the node the charger moves to
        for claim in await self._claim():
            task = asyncio.create_task(self._deliver(claim))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _claim(self) -> list[_Claim]:
        settings = self._rt.settings
        lease = timedelta(seconds=settings.call_timeout_s * 2)
        settle = timedelta(seconds=settings.resend_settle_s)
        claims = []
        async with self._rt.sessions() as session, session.begin():
            rows = await command_store.claim_due(session, settings.node_id, utcnow(), lease, settle)
            for command, charger in rows:
                transaction = await session.get(Transaction, command.transaction_id)
                if transaction is None or not _still_needed(command, transaction):
                    command.status = CommandStatus.CANCELLED.value
                    continue
                claims.append(
                    _Claim(
                        command_id=command.id,
                        charge_point_id=charger.charge_point_id,
                        epoch=charger.connection_epoch,
                        order=await _order(
                            session, command, transaction, charger, settings.tx_profile_limit_a
                        ),
                    )
                )
        return claims

    async def _deliver(self, claim: _Claim) -> None:
        try:
            reply = await self._link.execute(claim.charge_point_id, claim.epoch, claim.order)
        except NotDelivered as exc:
            await self._undelivered(claim, str(exc))
            return
        except Exception:
            log.exception("sending a command failed", extra={"command_id": claim.command_id})
            await self._undelivered(claim, "internal error while sending")
            return
        await self._delivered(claim, reply)

    async def _delivered(self, claim: _Claim, reply: Reply) -> None:
        now = utcnow()
        async with self._rt.sessions() as session, session.begin():
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

    async def _undelivered(self, claim: _Claim, why: str) -> None:
        now = utcnow()
        async with self._rt.sessions() as session, session.begin():
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
                f"Charger {claim.charge_point_id} did not answer after {command.attempts} "
                f"attempts ({why})"
            )
            await _refused(session, claim.order, reason, now)

    async def finish_in_flight(self, timeout: float) -> None:
        """Let commands already being sent get their answers (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)


def _still_needed(command: Command, transaction: Transaction) -> bool:
    """A start is only sent for a pending transaction, a stop or profile only for an open one."""
    if command.action == CommandAction.START.value:
        return transaction.state == TransactionState.PENDING.value
    if command.action == CommandAction.PROFILE.value:
        return transaction.state == TransactionState.OPEN.value and (
            transaction.profile_until != transaction.expires_at
        )
    return transaction.state == TransactionState.OPEN.value


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


async def _order(
    session: AsyncSession,
    command: Command,
    transaction: Transaction,
    charger: Charger,
    limit_a: float,
) -> Order:
    port = await session.get(Port, transaction.port_uuid)
    if port is None:
        raise LookupError(f"transaction {transaction.transaction_uuid} has no port")
    action = CommandAction(command.action)
    return Order(
        action=action,
        connector_id=port.connector_id,
        id_tag=transaction.id_tag,
        transaction_id=transaction.id,
        charger_transaction_id=transaction.charger_transaction_id,
        expires_at=transaction.expires_at,
        fail_safe=action is not CommandAction.STOP
        and bool(charger.smart_charging)
        and transaction.expires_at is not None,
        fail_safe_limit_a=limit_a,
        issued_at=utcnow(),
    )
