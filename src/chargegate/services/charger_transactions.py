"""The transactions chargers report: starts matched to our requests, stops, meter readings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.reports import StopReport
from chargegate.domain.sites import Draw
from chargegate.domain.states import TransactionOrigin, TransactionState
from chargegate.domain.times import utcnow
from chargegate.domain.tokens import Verdict
from chargegate.domain.webhooks import EventType
from chargegate.services import connectors, outcomes, webhooks
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Charger, Transaction
from chargegate.store.readings import OnPort, Reading


@dataclass(frozen=True, slots=True)
class StartAnswer:
    transaction_id: int
    accepted: bool


async def transaction_started(
    rt: Runtime,
    charge_point_id: str,
    *,
    connector_id: int,
    id_tag: str | None,
    meter_start_wh: int | None,
    at: datetime,
    charger_transaction_id: str | None = None,
    remote_start_id: int | None = None,
) -> StartAnswer:
    """The charger reports a transaction (1.6 StartTransaction, 2.0.1 TransactionEvent).

    Idempotent: a retry, with a new message id after a reconnect, gets the same answer and
    never a second transaction. Raises UnknownConnector for a connector that is not (and may not
    become) a port.
    """
    await connectors.require(rt, charge_point_id, connector_id, station=False)
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        # A 1.6 report names nothing but the token and the connector (2.0.1 names the station's
        # own transaction id, and our remoteStartId): a driver's token may be charging on
        # another connector, so its start is ours only on the connector we asked for.
        on_connector = connector_id if charger_transaction_id is None else None
        ours = await _requested(session, charger, id_tag, remote_start_id, on_connector)
        known = None
        if charger_transaction_id is not None:
            known = await tx_store.charger_transaction_by_id(
                session, charger.id, charger_transaction_id
            )
        if known is not None and known.origin == TransactionOrigin.API:
            # The station named this transaction to us before (in its answer to our start, or
            # in an earlier report): it is ours, whichever of the two came first.
            if known.state == TransactionState.PENDING:
                await outcomes.open_transaction(session, known, at, meter_start_wh, now)
            answer = StartAnswer(known.id, accepted=True)
        elif known is not None:
            if ours is None or ours.state != TransactionState.PENDING:
                if id_tag and not tx_store.is_session(known):
                    # A token presented for a transaction the station began before (cable
                    # first), or another one after a refused one: the card it now runs on.
                    known.id_tag = id_tag
                return StartAnswer(known.id, accepted=False)
            # Begun at the charger (cable first), now claimed by our start request.
            await outcomes.adopt(session, ours, known, now)
            answer = StartAnswer(ours.id, accepted=True)
        elif ours is not None and ours.state == TransactionState.OPEN:
            return StartAnswer(ours.id, accepted=True)
        elif ours is not None and ours.state == TransactionState.PENDING:
            await outcomes.open_transaction(session, ours, at, meter_start_wh, now)
            ours.charger_transaction_id = charger_transaction_id
            answer = StartAnswer(ours.id, accepted=True)
        else:
            # Not ours, or too late (already failed or cancelled): record what the charger did,
            # so that its stop closes it, but tell it the idTag is not valid.
            repeat = await _same_foreign_start(session, charger, id_tag, meter_start_wh, at)
            if repeat is not None:
                return StartAnswer(repeat.id, accepted=False)
            foreign = await _record_foreign_start(
                session, charger, connector_id, id_tag, meter_start_wh, at, now
            )
            foreign.charger_transaction_id = charger_transaction_id
            answer = StartAnswer(foreign.id, accepted=False)
    rt.bus.wake(Topic.SCHEDULE, Topic.DISPATCH, Topic.BALANCE)
    return answer


async def transaction_stopped(
    rt: Runtime,
    charge_point_id: str,
    reference: int | str,
    meter_stop_wh: int | None,
    at: datetime,
    reason: str,
) -> None:
    """`reason`: the charger's (Local when it left it out). Always succeeds: a charger must
    never be left retrying a stop. A deadlock with another write (the stop's own command
    answer: both touch the transaction and its commands) is run again by the group commit."""
    stop = StopReport(charge_point_id, reference, meter_stop_wh, at, reason)
    # Durable once this returns, grouped with the stops other chargers report.
    await rt.node.writes.stops.add(stop)
    rt.bus.wake(Topic.BALANCE)


async def meter_reading(
    rt: Runtime,
    charge_point_id: str,
    reference: int | str | OnPort,
    energy_wh: int | None,
    draw: Draw | None,
) -> None:
    """A reading for a transaction (1.6 transactionId, 2.0.1 the charger's transactionId, or
    the one open on a port), kept while it is open: its energy register, and what it draws
    (Current.Import, Power.Active.Import), the measured load a site shows (services.sites)."""
    if energy_wh is None and draw is None:
        return
    current_a, power_w = (None, None) if draw is None else (draw.current_a, draw.power_w)
    # Durable once this returns, grouped with the readings other chargers send.
    await rt.node.writes.readings.add(
        Reading(charge_point_id, reference, energy_wh, current_a, power_w)
    )


async def port_meter_reading(
    rt: Runtime,
    charge_point_id: str,
    connector_id: int,
    energy_wh: int | None,
    draw: Draw | None,
) -> None:
    """A reading for a port rather than a transaction (2.0.1 MeterValues), kept on its open
    transaction as meter_reading keeps it. The station's own (EVSE 0) readings are not kept.
    Raises UnknownConnector for an EVSE that is not (and may not become) a port."""
    await connectors.require(rt, charge_point_id, connector_id, station=True)
    if connector_id != connectors.STATION:
        await meter_reading(rt, charge_point_id, OnPort(connector_id), energy_wh, draw)


async def _requested(
    session: AsyncSession,
    charger: Charger,
    id_tag: str | None,
    remote_start_id: int | None,
    connector_id: int | None,
) -> Transaction | None:
    """Our API transaction that this charger report answers, if any: by our remoteStartId, else
    by its token (on `connector_id`, if given). No two live API starts on one charger share a
    token (services.transactions), so the token names one."""
    if remote_start_id is not None:
        found = await tx_store.charger_transaction_by_id(session, charger.id, remote_start_id)
        if found is not None and found.origin == TransactionOrigin.API:
            return found
    if id_tag is None:
        return None
    return await tx_store.charger_transaction_by_tag(
        session, charger.id, id_tag, TransactionOrigin.API, connector_id
    )


async def start_answered(
    rt: Runtime, charge_point_id: str, transaction_id: int, told: Verdict
) -> None:
    """What the charger was told of the token of a transaction it began itself. Accepted makes
    it a session the API shows (and announces: transaction.opened); refused, it stays a record
    for its stop to find. A session stays one, whatever a later event's token is told."""
    async with rt.sessions() as session, session.begin():
        transaction = await tx_store.locked(session, transaction_id)
        if (
            transaction is None
            or transaction.origin != TransactionOrigin.CHARGER
            or tx_store.is_session(transaction)
        ):
            return
        transaction.start_verdict = told
        if told == Verdict.ACCEPTED and transaction.state == TransactionState.OPEN:
            await webhooks.transaction_event(session, transaction, EventType.TRANSACTION_OPENED)


async def _same_foreign_start(
    session: AsyncSession,
    charger: Charger,
    id_tag: str | None,
    meter_start_wh: int | None,
    at: datetime,
) -> Transaction | None:
    """A retried report of a charger-begun start: same tag, same time, same meter."""
    found = await tx_store.charger_transaction_by_tag(
        session, charger.id, id_tag or "", TransactionOrigin.CHARGER
    )
    if found is not None and found.started_at == at and found.meter_start_wh == meter_start_wh:
        return found
    return None


async def _record_foreign_start(
    session: AsyncSession,
    charger: Charger,
    connector_id: int,
    id_tag: str | None,
    meter_start_wh: int | None,
    at: datetime,
    now: datetime,
) -> Transaction:
    port = await charger_store.ensure_port(session, charger, connector_id)
    # A connector runs one transaction at a time: one the charger began before and never
    # reported ended is over now (its stop was lost), and cannot pile up as open records.
    for stale in await tx_store.open_charger_transactions(session, port.port_uuid):
        await outcomes.close_transaction(session, stale, at, None, "charger:Superseded", now)
    transaction = Transaction(
        transaction_uuid=str(uuid.uuid4()),
        operator_id=charger.operator_id,
        port_uuid=port.port_uuid,
        staging=False,
        state=TransactionState.OPEN,
        origin=TransactionOrigin.CHARGER,
        id_tag=id_tag or "",
        created_at=now,
        started_at=at,
        meter_start_wh=meter_start_wh,
        meter_last_wh=meter_start_wh,
    )
    session.add(transaction)
    await session.flush()
    return transaction
