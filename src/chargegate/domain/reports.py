"""What a charger reported, as stored by a group commit (services.report_writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BootReport:
    charge_point_id: str
    vendor: str
    model: str
    at: datetime
    # Optional in every OCPP version's BootNotification.
    serial_number: str | None = None
    firmware_version: str | None = None

    @property
    def identity(self) -> tuple[str, str, str | None, str | None]:
        return self.vendor, self.model, self.serial_number, self.firmware_version


@dataclass(frozen=True, slots=True)
class StatusReport:
    charge_point_id: str
    connector_id: int  # 1 and up: connector 0 (the charger as a whole) is not a port
    status: str
    error_code: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class SmartChargingReport:
    """What the probe after boot found: charging profiles taken, and (1.6) the feature
    profiles the charger names."""

    charge_point_id: str
    supported: bool
    feature_profiles: list[str] | None


ChargerReport = BootReport | StatusReport | SmartChargingReport


@dataclass(frozen=True, slots=True)
class StopReport:
    """A charger's StopTransaction (1.6) or TransactionEvent Ended (2.0.1)."""

    charge_point_id: str
    # The charger's transaction id: our id (1.6) or its own (2.0.1).
    reference: int | str
    meter_stop_wh: int | None
    at: datetime
    # The charger's reason (Local when it left it out).
    reason: str
