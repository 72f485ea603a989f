"""What chargers tell us: connections, boot, status, authorisation, transactions, meter values."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.reports import BootReport, ChargerReport, StatusReport
from chargegate.domain.states import TransactionOrigin, TransactionState
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.webhooks import EventType
from chargegate.services import connectors, outcomes, webhooks
from chargegate.services.group_commit import GroupCommit
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.database import lost_a_tie
from chargegate.store.models import Charger, Port, Transaction

log = logging.getLogger(__name__)

# How often a stop report that lost a deadlock is run again.
TIE_ATTEMPTS = 3

_LIVE = (TransactionState.PENDING.value, TransactionState.OPEN.value)


@dataclass(frozen=True, slots=True)
class StartAnswer:
    transaction_id: int
    accepted: bool


async def connected(rt: Runtime, charge_point_id: str, ocpp_version: str) -> int:
    """Returns the connection epoch: only the holder of the newest epoch may send."""
    # While connected elsewhere, the charger's statuses were stored by another node.
    for key in [key for key in rt.node.statuses_written if key[0] == charge_point_id]:
        del rt.node.statuses_written[key]
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        epoch = await charger_store.claim_connection(
            session, charge_point_id, rt.settings.node_id, ocpp_version, now
        )
    if epoch is None:
        raise LookupError(f"charger {charge_point_id!r} is not registered")
    rt.node.seen_written[charge_point_id] = now  # claim_connection wrote last_seen_at
    rt.bus.wake(Topic.DISPATCH)
    return epoch


async def disconnected(rt: Runtime, charge_point_id: str, epoch: int) -> None:
    async with rt.sessions() as session, session.begin():
        await charger_store.release_connection(session, charge_point_id, epoch, utcnow())


async def booted(rt: Runtime, charge_point_id: str, vendor: str, model: str) -> None:
    """Stores vendor and model when they change. A reconnect storm is thousands of boots at
    once: reading (beside the writer) instead of writing keeps the writer for what matters."""
    async with rt.reads() as session:
        known = await _charger(session, charge_point_id)
        if (known.vendor, known.model) == (vendor, model):
            return
    await _reports(rt).add(BootReport(charge_point_id, vendor, model, utcnow()))


async def seen(rt: Runtime, charge_point_id: str) -> None:
    """A heartbeat. Whether a charger is online comes from its socket, so `last_seen_at` is
    only informative: it is written at most once a minute per charger (by default), and the
    writes of many chargers go together in one transaction, which takes the database write per
    heartbeat off the hottest path there is."""
    now = utcnow()
    last = rt.node.seen_written.get(charge_point_id)
    if last is not None and now - last < timedelta(seconds=rt.settings.seen_write_interval_s):
        return
    rt.node.seen_written[charge_point_id] = now
    if rt.node.seen_writes is None:
        rt.node.seen_writes = GroupCommit(
            partial(_write_seen, rt),
            "last_seen",
            describe=lambda seen: {"charge_point_id": seen[0]},
        )
    await rt.node.seen_writes.add((charge_point_id, now))


async def _write_seen(rt: Runtime, batch: list[tuple[str, datetime]]) -> None:
    async with rt.sessions() as session, session.begin():
        await charger_store.mark_seen(session, batch)


async def status_changed(
    rt: Runtime,
    charge_point_id: str,
    connector_id: int,
    status: str,
    error_code: str | None,
    at: datetime,
) -> None:
    """Stores a port's status. A repeat of the status this node last stored for the port is not
    written again: `status_at` then keeps the time the status began, and the periodic
    StatusNotifications many chargers send cost no database write (bench/RESULTS.md).
    Raises UnknownConnector for a connector that is not (and may not become) a port."""
    if connector_id == connectors.STATION:
        return
    key = (charge_point_id, connector_id)
    if key not in rt.node.statuses_written:
        await connectors.require(rt, charge_point_id, connector_id, station=False)
        # First status since the charger connected here: after a reconnect it is usually the
        # one already stored, which a read (beside the writer) tells.
        async with rt.reads() as session:
            stored = await charger_store.port_status(session, charge_point_id, connector_id)
        if stored is not None:
            rt.node.statuses_written[key] = stored
    if rt.node.statuses_written.get(key) == (status, error_code):
        return
    await _reports(rt).add(StatusReport(charge_point_id, connector_id, status, error_code, at))


def _reports(rt: Runtime) -> GroupCommit[ChargerReport]:
    """Boots and status changes are group-committed: a fleet coming online for the first time
    sends thousands of each within seconds."""
    if rt.node.report_writes is None:
        rt.node.report_writes = GroupCommit(
            partial(_write_reports, rt),
            "charger_reports",
            describe=lambda report: {"charge_point_id": report.charge_point_id},
        )
    return rt.node.report_writes


async def _write_reports(rt: Runtime, batch: list[ChargerReport]) -> None:
    """One transaction and a few statements for the whole batch: one statement per report
    would keep the single SQLite writer busy for seconds when a fleet comes online."""
    statuses: dict[tuple[str, int], tuple[str | None, str | None]] = {}
    async with rt.sessions() as session, session.begin():
        wanted = {r.charge_point_id for r in batch}
        chargers = await charger_store.chargers_by_id(session, wanted)
        unknown = wanted - chargers.keys()
        if unknown:
            # Written one by one then (GroupCommit), so that only its own caller fails.
            raise LookupError(f"chargers {sorted(unknown)!r} are not registered")
        ports = await charger_store.ensure_ports(
            session,
            {
                (chargers[r.charge_point_id], r.connector_id)
                for r in batch
                if isinstance(r, StatusReport)
            },
        )
        for report in batch:
            charger = chargers[report.charge_point_id]
            if isinstance(report, BootReport):
                charger.vendor, charger.model = report.vendor, report.model
                charger.last_seen_at = report.at
            else:
                port = ports[(charger.id, report.connector_id)]
                await _store_status(session, charger, port, report)
                statuses[(report.charge_point_id, report.connector_id)] = (
                    port.status,
                    port.error_code,
                )
    # Only once committed: a status remembered as stored is never written again.
    rt.node.statuses_written.update(statuses)


async def _store_status(
    session: AsyncSession, charger: Charger, port: Port, report: StatusReport
) -> None:
    """Stores a port's status unless it is older than the stored one, or the same."""
    status, error_code, at = report.status, report.error_code, report.at
    if (port.status_at is not None and at < port.status_at) or (
        (port.status, port.error_code) == (status, error_code) and port.status_at is not None
    ):
        return
    port.status, port.error_code, port.status_at = status, error_code, at
    await webhooks.emit(
        session,
        charger.operator_id,
        EventType.PORT_STATUS_CHANGED,
        f"port:{port.port_uuid}",
        {
            "port_uuid": port.port_uuid,
            "charge_point_id": report.charge_point_id,
            "connector_id": report.connector_id,
            "status": status,
            "error_code": error_code,
            "at": format_api(at),
        },
    )


async def authorize(rt: Runtime, charge_point_id: str, id_tag: str) -> bool:
    """Only the idTags we handed out for live transactions are valid."""
    async with rt.reads() as session:
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_tag(
            session, charger.id, id_tag, TransactionOrigin.API
        )
    return transaction is not None and transaction.state in _LIVE


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
        charger = await _charger(session, charge_point_id)
        ours = await _requested(session, charger, id_tag, remote_start_id)
        known = None
        if charger_transaction_id is not None:
            known = await tx_store.charger_transaction_by_id(
                session, charger.id, charger_transaction_id
            )
        if known is not None and known.origin == TransactionOrigin.API.value:
            # The station named this transaction to us before (in its answer to our start, or
            # in an earlier report): it is ours, whichever of the two came first.
            if known.state == TransactionState.PENDING.value:
                await outcomes.open_transaction(session, known, at, meter_start_wh, now)
            answer = StartAnswer(known.id, accepted=True)
        elif known is not None:
            if ours is None or ours.state != TransactionState.PENDING.value:
                return StartAnswer(known.id, accepted=False)
            # Begun at the charger (cable first), now claimed by our start request.
            await outcomes.adopt(session, ours, known, now)
            answer = StartAnswer(ours.id, accepted=True)
        elif ours is not None and ours.state == TransactionState.OPEN.value:
            return StartAnswer(ours.id, accepted=True)
        elif ours is not None and ours.state == TransactionState.PENDING.value:
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
    rt.bus.wake(Topic.SCHEDULE, Topic.DISPATCH)
    return answer


async def transaction_stopped(
    rt: Runtime,
    charge_point_id: str,
    reference: int | str,
    meter_stop_wh: int | None,
    at: datetime,
    reason: str | None,
) -> None:
    """Always succeeds: a charger must never be left retrying a stop. A deadlock with the
    stop's own command answer (both touch the transaction and its commands) is run again."""
    for attempt in range(1, TIE_ATTEMPTS + 1):
        try:
            async with rt.sessions() as session, session.begin():
                charger = await _charger(session, charge_point_id)
                transaction = await tx_store.charger_transaction_by_id(
                    session, charger.id, reference
                )
                if transaction is None:
                    log.warning(
                        "stop for an unknown transaction",
                        extra={"charge_point_id": charge_point_id, "transaction": reference},
                    )
                elif transaction.state != TransactionState.OPEN.value:
                    outcomes.complete_stop(transaction, at, meter_stop_wh)
                else:
                    await outcomes.close_transaction(
                        session, transaction, at, meter_stop_wh, _stop_reason(reason), utcnow()
                    )
            return
        except DBAPIError as exc:
            if attempt == TIE_ATTEMPTS or not lost_a_tie(exc):
                raise


async def meter_reading(
    rt: Runtime, charge_point_id: str, reference: int | str, energy_wh: int
) -> None:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        transaction = await tx_store.charger_transaction_by_id(session, charger.id, reference)
        if transaction is not None and transaction.state == TransactionState.OPEN.value:
            transaction.meter_last_wh = energy_wh


async def port_meter_reading(
    rt: Runtime, charge_point_id: str, connector_id: int, energy_wh: int | None
) -> None:
    """A reading for a port rather than a transaction (2.0.1 MeterValues). The station's own
    (EVSE 0) readings are not kept. Raises UnknownConnector for an EVSE that is not (and may
    not become) a port."""
    await connectors.require(rt, charge_point_id, connector_id, station=True)
    if energy_wh is None or connector_id == connectors.STATION:
        return
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        port = await charger_store.ensure_port(session, charger, connector_id)
        transaction = await tx_store.open_on_port(session, port.port_uuid)
        if transaction is not None:
            transaction.meter_last_wh = energy_wh


async def smart_charging_known(rt: Runtime, charge_point_id: str, supported: bool) -> None:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, charge_point_id)
        charger.smart_charging = supported


async def _requested(
    session: AsyncSession, charger: Charger, id_tag: str | None, remote_start_id: int | None
) -> Transaction | None:
    """Our API transaction that this charger report answers, if any."""
    if remote_start_id is not None:
        found = await tx_store.charger_transaction_by_id(session, charger.id, remote_start_id)
        if found is not None and found.origin == TransactionOrigin.API.value:
            return found
    if id_tag is None:
        return None
    return await tx_store.charger_transaction_by_tag(
        session, charger.id, id_tag, TransactionOrigin.API
    )


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
        state=TransactionState.OPEN.value,
        origin=TransactionOrigin.CHARGER.value,
        id_tag=id_tag or "",
        created_at=now,
        started_at=at,
        meter_start_wh=meter_start_wh,
        meter_last_wh=meter_start_wh,
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
