"""What every flow needs: settings, the database and the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chargegate.bus import Bus
from chargegate.config import Settings
from chargegate.domain.credentials import PasswordCache
from chargegate.domain.reports import ChargerReport
from chargegate.domain.times import utcnow
from chargegate.services.group_commit import GroupCommit
from chargegate.store.database import SessionFactory


@dataclass(slots=True)
class NodeState:
    # Set when a graceful shutdown begins: no new chargers, not ready for traffic.
    draining: bool = False
    started_at: datetime = field(default_factory=utcnow)
    passwords: PasswordCache = field(default_factory=PasswordCache)
    # When this node last wrote each charger's last_seen_at, and the writes under way, grouped
    # (see charger_events.seen).
    seen_written: dict[str, datetime] = field(default_factory=dict)
    seen_writes: GroupCommit[tuple[str, datetime]] | None = None
    # Boots and status changes, grouped (see charger_events._reports).
    report_writes: GroupCommit[ChargerReport] | None = None
    # The (status, error code) this node last stored for each (charger, connector): chargers
    # repeat unchanged StatusNotifications, which then cost no write (see status_changed).
    statuses_written: dict[tuple[str, int], tuple[str | None, str | None]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sessions: SessionFactory
    # Read-only sessions (see store.database.create_reader); writes there fail.
    reads: SessionFactory
    bus: Bus
    node: NodeState = field(default_factory=NodeState)
