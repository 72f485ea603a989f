"""What every flow needs: settings, the database and the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chargegate.bus import Bus
from chargegate.config import Settings
from chargegate.domain.auto_registration import AutoRegistration
from chargegate.domain.credentials import PasswordCache
from chargegate.domain.times import utcnow
from chargegate.services.api_writes import ApiWrites
from chargegate.services.charger_lookups import ChargerLookups
from chargegate.services.report_writes import ReportWrites
from chargegate.services.slow_checks import SlowChecks
from chargegate.store.database import SessionFactory


@dataclass(slots=True)
class NodeState:
    # Charger password checks (scrypt), on threads of their own.
    password_checks: SlowChecks
    # Boots, status changes, stops and last-seen times, written in groups (see charger_reports).
    writes: ReportWrites
    # The API's starts, committed together when they arrive together (on SQLite).
    api_writes: ApiWrites
    # Charger rows for handshakes and boots, read in groups.
    lookups: ChargerLookups
    auto_registration: AutoRegistration = AutoRegistration.OFF
    # The hash auto-registered chargers get, of the bootstrap secret (one for all of them, so a
    # reconnect storm of them needs one scrypt check, not one each).
    bootstrap_hash: str | None = None
    # Set when a graceful shutdown begins: no new chargers, not ready for traffic.
    draining: bool = False
    started_at: datetime = field(default_factory=utcnow)
    passwords: PasswordCache = field(default_factory=PasswordCache)
    # (charger, connector) this node asked whether a stuck stop's transaction still runs: the
    # status it reports next answers that (see stops.connector_reported). One per stuck stop.
    reconciling: set[tuple[str, int]] = field(default_factory=set)
    # Commands written already claimed by this node (an expiry wave's stops): its dispatcher
    # sends them at its next pass (Dispatcher._send_taken), without a claim.
    claimed_here: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sessions: SessionFactory
    # Read-only sessions (see store.database.create_reader); writes there fail.
    reads: SessionFactory
    bus: Bus
    node: NodeState
