"""What chargers tell us about themselves: connections, boots, heartbeats, port statuses."""

from __future__ import annotations

from datetime import datetime

from chargegate.bus import Topic
from chargegate.domain.reports import BootReport, SmartChargingReport, StatusReport
from chargegate.domain.times import utcnow
from chargegate.services import connectors
from chargegate.services.report_writes import Claim, Release
from chargegate.services.runtime import Runtime


async def connected(rt: Runtime, charge_point_id: str, ocpp_version: str) -> int:
    """Returns the connection epoch: only the holder of the newest epoch may send."""
    rt.node.writes.forget(charge_point_id)
    now = utcnow()
    claim = Claim(charge_point_id, rt.settings.node_id, ocpp_version, now)
    await rt.node.writes.claims.add(claim)
    epoch = claim.epoch
    if epoch is None:
        raise LookupError(f"charger {charge_point_id!r} is not registered")
    rt.node.writes.seen_written[charge_point_id] = now  # claim_connections wrote last_seen_at
    # Its sessions under a site are managed again (and counted as such).
    rt.bus.wake(Topic.DISPATCH, Topic.BALANCE)
    return epoch


def disconnected(rt: Runtime, charge_point_id: str, epoch: int) -> None:
    """Marks the charger offline, unless a newer connection replaced this one; written with
    other disconnects, and nothing waits for it (a node's shutdown flushes it)."""
    rt.node.writes.releases.put(Release(charge_point_id, epoch, utcnow()))


async def booted(rt: Runtime, report: BootReport) -> None:
    """Stores vendor, model, serial number and firmware version when they change. A reconnect
    storm is thousands of boots at once: reading (beside the writer, many chargers at once)
    instead of writing keeps the writer for what matters."""
    known = await rt.node.lookups.charger(report.charge_point_id)
    if known is None:
        raise LookupError(f"charger {report.charge_point_id!r} is not registered")
    stored = (known.vendor, known.model, known.serial_number, known.firmware_version)
    if stored == report.identity:
        return
    await rt.node.writes.reports.add(report)


def seen(rt: Runtime, charge_point_id: str) -> None:
    """A heartbeat. Whether a charger is online comes from its socket, so `last_seen_at` is
    only informative: it is written at most once a minute per charger (by default), and the
    writes of many chargers go together in one transaction, which takes the database write per
    heartbeat off the hottest path there is. Nor does the heartbeat's answer wait for that
    write: on SQLite's single writer it would queue behind every other write."""
    now = utcnow()
    writes = rt.node.writes
    last = writes.seen_written.get(charge_point_id)
    if last is not None and (now - last).total_seconds() < rt.settings.seen_write_interval_s:
        return
    writes.seen_written[charge_point_id] = now
    writes.seen.put((charge_point_id, now))


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
    written = rt.node.writes.statuses_written
    if key not in written:
        await connectors.require(rt, charge_point_id, connector_id, station=False)
        # First status since the charger connected here: after a reconnect it is usually the
        # one already stored, which a read (beside the writer, many ports at once) tells.
        stored = await rt.node.lookups.port_status(charge_point_id, connector_id)
        if stored is not None:
            written[key] = stored
    if written.get(key) == (status, error_code):
        return
    await rt.node.writes.reports.add(
        StatusReport(charge_point_id, connector_id, status, error_code, at)
    )


async def smart_charging_known(
    rt: Runtime, charge_point_id: str, supported: bool, feature_profiles: list[str] | None
) -> None:
    """What the probe after boot found: charging profiles taken, and (1.6) the feature
    profiles the charger names. A reconnecting charger tells what is stored, which a read
    (beside the writer) tells, and costs no write."""
    known = await rt.node.lookups.charger(charge_point_id)
    if known is None:
        raise LookupError(f"charger {charge_point_id!r} is not registered")
    if (known.smart_charging, known.feature_profiles) == (supported, feature_profiles):
        return
    await rt.node.writes.reports.add(
        SmartChargingReport(charge_point_id, supported, feature_profiles)
    )
