"""The writes of what chargers report about themselves (boots, probes, status changes, last
seen, connections, meter readings, stops), grouped, and this node's memory of what it wrote: one
object per node, built in create_app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Bus, Topic
from chargegate.domain.reports import (
    BootReport,
    ChargerReport,
    SmartChargingReport,
    StatusReport,
    StopReport,
)
from chargegate.domain.times import format_api
from chargegate.domain.webhooks import EventType
from chargegate.services import webhooks
from chargegate.services.group_commit import GroupCommit
from chargegate.services.stop_writes import write_stops
from chargegate.store import chargers as charger_store
from chargegate.store import readings as reading_store
from chargegate.store.chunks import rounds
from chargegate.store.database import SessionFactory
from chargegate.store.models import Charger, Port
from chargegate.store.readings import Reading

# The (status, error code) stored for each (charger, connector).
StatusesWritten = dict[tuple[str, int], tuple[str | None, str | None]]


@dataclass(slots=True)
class Claim:
    """This node takes a charger's socket. `epoch` is the new connection epoch once written
    (None: the charger is not registered, or disabled or deleted since its handshake)."""

    charge_point_id: str
    node_id: str
    ocpp_version: str
    at: datetime
    epoch: int | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Connection `epoch` of the charger closed at `at`."""

    charge_point_id: str
    epoch: int
    at: datetime


SEEN_LINGER_S = 1.0


class ReportWrites:
    def __init__(self, sessions: SessionFactory, bus: Bus) -> None:
        # When this node last wrote each charger's last_seen_at.
        self.seen_written: dict[str, datetime] = {}
        # The status this node last stored for each port: chargers repeat unchanged
        # StatusNotifications, which then cost no write.
        self.statuses_written: StatusesWritten = {}
        # Heartbeats' last_seen_at, many chargers' in one transaction: nobody waits for them,
        # so they gather for a second rather than take the writer each as it comes.
        self.seen: GroupCommit[tuple[str, datetime]] = GroupCommit(
            partial(_write_seen, sessions),
            "last_seen",
            describe=lambda seen: {"charge_point_id": seen[0]},
            linger=SEEN_LINGER_S,
        )
        # Boots and status changes: a fleet coming online for the first time sends thousands of
        # each within seconds.
        self.reports: GroupCommit[ChargerReport] = GroupCommit(
            partial(_write_reports, sessions, self.statuses_written),
            "charger_reports",
            describe=lambda report: {"charge_point_id": report.charge_point_id},
        )
        # Connection epochs: after a restart every charger reconnects at once, and one commit
        # each would queue them all behind the single SQLite writer (or the pool).
        self.claims: GroupCommit[Claim] = GroupCommit(
            partial(_write_claims, sessions),
            "connection_claims",
            describe=lambda claim: {"charge_point_id": claim.charge_point_id},
        )
        # Disconnects: a restart or a flaky network cuts many at once, and nobody waits for
        # them (the epoch, not the order of writes, decides which connection holds a charger).
        self.releases: GroupCommit[Release] = GroupCommit(
            partial(_write_releases, sessions, bus),
            "connection_releases",
            describe=lambda release: {"charge_point_id": release.charge_point_id},
        )
        # Meter readings: the message a fleet sends most.
        self.readings: GroupCommit[Reading] = GroupCommit(
            partial(_write_readings, sessions),
            "meter_readings",
            describe=lambda reading: {"charge_point_id": reading.charge_point_id},
        )
        # Stop reports (an expiry wave's come all at once).
        self.stops: GroupCommit[StopReport] = GroupCommit(
            partial(write_stops, sessions),
            "stop_reports",
            describe=lambda stop: {"charge_point_id": stop.charge_point_id},
        )

    def forget(self, charge_point_id: str) -> None:
        """The charger connected here again: while it was connected elsewhere, its statuses
        were stored by another node."""
        for key in [key for key in self.statuses_written if key[0] == charge_point_id]:
            del self.statuses_written[key]


async def _write_seen(sessions: SessionFactory, batch: list[tuple[str, datetime]]) -> None:
    async with sessions() as session, session.begin():
        await charger_store.mark_seen(session, batch)


async def _write_readings(sessions: SessionFactory, batch: list[Reading]) -> None:
    async with sessions() as session, session.begin():
        await reading_store.record_readings(session, batch)


async def _write_releases(sessions: SessionFactory, bus: Bus, batch: list[Release]) -> None:
    async with sessions() as session, session.begin():
        await charger_store.release_connections(
            session, [(release.charge_point_id, release.epoch, release.at) for release in batch]
        )
    # Their sessions under a site keep their allocation counted; an unanswered lowering of it
    # no longer holds its site's raises back, once the balancer reads them offline.
    bus.wake(Topic.BALANCE)


async def _write_claims(sessions: SessionFactory, batch: list[Claim]) -> None:
    """A statement or two per round, each charger at most once a round: a charger that
    connected twice within the batch is claimed again in a later round, so its later connection
    gets the newer epoch."""
    turns = rounds(batch, attrgetter("charge_point_id"))
    epochs: list[dict[str, int]] = []
    async with sessions() as session, session.begin():
        for claims in turns:
            found: dict[str, int] = {}
            for version in sorted({claim.ocpp_version for claim in claims}):
                found |= await charger_store.claim_connections(
                    session,
                    [claim.charge_point_id for claim in claims if claim.ocpp_version == version],
                    claims[0].node_id,
                    version,
                    max(claim.at for claim in claims),
                )
            epochs.append(found)
    # Only once committed: a batch rolled back and written again one by one sets them anew.
    for claims, found in zip(turns, epochs, strict=True):
        for claim in claims:
            claim.epoch = found.get(claim.charge_point_id)


async def _write_reports(
    sessions: SessionFactory, written: StatusesWritten, batch: list[ChargerReport]
) -> None:
    """One transaction and a few statements for the whole batch: one statement per report
    would keep the single SQLite writer busy for seconds when a fleet comes online."""
    statuses: StatusesWritten = {}
    async with sessions() as session, session.begin():
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
            match report:
                case BootReport():
                    charger.vendor, charger.model = report.vendor, report.model
                    charger.serial_number = report.serial_number
                    charger.firmware_version = report.firmware_version
                    charger.last_seen_at = report.at
                case SmartChargingReport():
                    charger.smart_charging = report.supported
                    charger.feature_profiles = report.feature_profiles
                case StatusReport():
                    port = ports[(charger.id, report.connector_id)]
                    await _store_status(session, charger, port, report)
                    statuses[(report.charge_point_id, report.connector_id)] = (
                        port.status,
                        port.error_code,
                    )
                case _:
                    assert_never(report)
    # Only once committed: a status remembered as stored is never written again.
    written.update(statuses)


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
