"""What chargers tell us: connections, boot, status, authorisation, transactions, meter values."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus.local import Topic
from chargegate.domain.credentials import password_matches
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services import outcomes
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Charger, Transaction

log = logging.getLogger(__name__)


class ChargerRefused(Exception):
    """The charger may not connect: unknown id or wrong credentials."""


@dataclass(frozen=True, slots=True)
class StartAnswer:
    transaction_id: int
    accepted: bool


async def admit(rt: Runtime, charge_point_id: str, password: str | None) -> None:
    """Decide at the handshake whether this charger may connect at all."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.get_charger(session, charge_point_id)
        if charger is None:
            if not rt.settings.auto_register:
                raise ChargerRefused(f"unknown charge point id {charge_point_id!r}")
            operator = await operator_store.get_or_create_operator(
                session, rt.settings.auto_register_operator, utcnow()
            )
            await charger_store.add_charger(
                session,
                charge_point_id=charge_point_id,
                operator_id=operator.id,
                password_hash=None,
                now=utcnow(),
            )
            log.info("auto-registered charger", extra={"charge_point_id": charge_point_id})
            return
        if charger.password_hash is not None and (
            password is None or not password_matches(password, charger.password_hash)
        ):
            raise ChargerRefused(f"wrong or missing credentials for {charge_point_id!r}")


async def connected(rt: Runtime, charge_point_id: str, ocpp_version: str) -> int:
    """Returns the connection epoch: only the holder of the newest epoch may send."""
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        charger.ocpp_version = ocpp_version
        epoch = await charger_store.claim_connection(
            session, charger, rt.settings.node_id, utcnow()
        )
    rt.bus.wake(Topic.DISPATCH)
    return epoch


async def disconnected(rt: Runtime, charge_point_id: str, epoch: int) -> None:
    async with rt.sessions() as session, session.begin():
        await charger_store.release_connection(session, charge_point_id, epoch, utcnow())


async def booted(rt: Runtime, charge_point_id: str, vendor: str, model: str) -> None:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        charger.vendor, charger.model = vendor, model
        charger.last_seen_at = utcnow()


async def seen(rt: Runtime, charge_point_id: str) -> None:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        charger.last_seen_at = utcnow()


async def status_changed(
    rt: Runtime,
    charge_point_id: str,
    connector_id: int,
    status: str,
    error_code: str | None,
    at: datetime,
) -> None:
    if connector_id <= 0:
        return  # connector 0 is the charger as a whole, not a port
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        port = await charger_store.ensure_port(session, charger, connector_id)
        if port.status_at is None or at >= port.status_at:
            port.status, port.error_code, port.status_at = status, error_code, at


async def authorize(rt: Runtime, charge_point_id: str, id_tag: str) -> bool:
    """Only the idTags we handed out for live transactions are valid."""
    async with rt.sessions() as session:
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_tag(session, charger.id, id_tag)
    return transaction is not None and transaction.state in (
        TransactionState.PENDING.value,
        TransactionState.OPEN.value,
    )


async def transaction_started(
    rt: Runtime,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int | None,
    at: datetime,
) -> StartAnswer:
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_tag(session, charger.id, id_tag)
        if transaction is not None and transaction.state == TransactionState.OPEN.value:
            # A retry of a start we already recorded: same answer, no second transaction.
            return StartAnswer(transaction.id, accepted=True)
        if transaction is not None and transaction.state == TransactionState.PENDING.value:
            await outcomes.open_transaction(session, transaction, at, meter_start_wh, now)
            answer = StartAnswer(transaction.id, accepted=True)
        else:
            # Not ours, or too late (already failed or cancelled): record what the charger did,
            # so that its StopTransaction closes it, but tell it to stop.
            transaction = await _record_foreign_start(
                session, charger, connector_id, id_tag, meter_start_wh, at, now
            )
            answer = StartAnswer(transaction.id, accepted=False)
    rt.bus.wake(Topic.SCHEDULE)
    return answer


async def transaction_stopped(
    rt: Runtime,
    charge_point_id: str,
    transaction_id: int,
    meter_stop_wh: int | None,
    at: datetime,
    reason: str | None,
) -> None:
    """Always succeeds: a charger must never be left retrying a StopTransaction."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_id(session, charger.id, transaction_id)
        if transaction is None:
            log.warning(
                "StopTransaction for unknown transaction",
                extra={"charge_point_id": charge_point_id, "transaction_id": transaction_id},
            )
            return
        if transaction.state != TransactionState.OPEN.value:
            return
        await outcomes.close_transaction(
            session, transaction, at, meter_stop_wh, _stop_reason(reason), now
        )


async def meter_reading(
    rt: Runtime, charge_point_id: str, transaction_id: int, energy_wh: int
) -> None:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_id(session, charger.id, transaction_id)
        if transaction is not None and transaction.state == TransactionState.OPEN.value:
            transaction.meter_last_wh = energy_wh


async def _record_foreign_start(
    session: AsyncSession,
    charger: Charger,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int | None,
    at: datetime,
    now: datetime,
) -> Transaction:
    port = await charger_store.ensure_port(session, charger, connector_id)
    transaction = Transaction(
        transaction_uuid=str(uuid.uuid4()),
        operator_id=charger.operator_id,
        port_uuid=port.port_uuid,
        staging=False,
        state=TransactionState.OPEN.value,
        id_tag=id_tag,
        created_at=now,
        started_at=at,
        meter_start_wh=meter_start_wh,
        meter_last_wh=meter_start_wh,
        failure_reason="started at the charger with an idTag chargegate did not issue",
    )
    session.add(transaction)
    await session.flush()
    return transaction


def _stop_reason(reason: str | None) -> str:
    return f"charger:{reason or 'Local'}"


async def _charger(session: AsyncSession, charge_point_id: str) -> Charger:
    charger = await charger_store.get_charger(session, charge_point_id)
    if charger is None:
        raise LookupError(f"charger {charge_point_id!r} is not registered")
    return charger
