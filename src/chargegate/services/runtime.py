"""What every flow needs: settings, the database and the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chargegate.bus import Bus
from chargegate.config import Settings
from chargegate.domain.credentials import PasswordCache
from chargegate.store.database import SessionFactory


@dataclass(slots=True)
class NodeState:
    # Set when a graceful shutdown begins: no new chargers, not ready for traffic.
    draining: bool = False
    passwords: PasswordCache = field(default_factory=PasswordCache)
    # When this node last wrote each charger's last_seen_at (see charger_events.seen).
    seen_written: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sessions: SessionFactory
    bus: Bus
    node: NodeState = field(default_factory=NodeState)
