"""What every flow needs: settings, the database and the bus."""

from __future__ import annotations

from dataclasses import dataclass

from chargegate.bus import Bus
from chargegate.config import Settings
from chargegate.store.database import SessionFactory


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sessions: SessionFactory
    bus: Bus
