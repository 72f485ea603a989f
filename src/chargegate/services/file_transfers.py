"""What chargers report of a firmware update and of a diagnostics upload (1.6
FirmwareStatusNotification and DiagnosticsStatusNotification; 2.0.1 FirmwareStatusNotification
and LogStatusNotification): the last status of each, kept on the charger and announced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from chargegate.domain.times import format_api, utcnow
from chargegate.domain.webhooks import EventType
from chargegate.services import operator_chargers, webhooks
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store.models import Charger


class Transfer(Enum):
    FIRMWARE = EventType.CHARGER_FIRMWARE_STATUS
    DIAGNOSTICS = EventType.CHARGER_DIAGNOSTICS_STATUS


@dataclass(frozen=True, slots=True)
class FileTransfersView:
    # As the charger worded them (2.0.1's log statuses are not 1.6's: UploadFailure).
    firmware_status: str | None
    firmware_status_at: datetime | None
    diagnostics_status: str | None
    diagnostics_status_at: datetime | None


async def reported(rt: Runtime, charge_point_id: str, transfer: Transfer, status: str) -> None:
    """A status notification: stored as the charger's latest, and a webhook event (each one, a
    repeated status included: the charger tells it again for a reason, e.g. a retry)."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        if transfer is Transfer.FIRMWARE:
            charger.firmware_status, charger.firmware_status_at = status, now
        else:
            charger.diagnostics_status, charger.diagnostics_status_at = status, now
        data = {"charge_point_id": charge_point_id, "status": status, "at": format_api(now)}
        await webhooks.emit(
            session,
            charger.operator_id,
            transfer.value,
            f"charger:{charger.id}:{transfer.name.lower()}",
            data,
        )


async def view(rt: Runtime, operator_id: int, charge_point_id: str) -> FileTransfersView:
    operator_chargers.check(charge_point_id)
    async with rt.reads() as session:
        return transfers_view(await operator_chargers.find(session, operator_id, charge_point_id))


def transfers_view(charger: Charger) -> FileTransfersView:
    """The charger's last reports, as GET /chargers/<id> and .../firmware both show them."""
    return FileTransfersView(
        firmware_status=charger.firmware_status,
        firmware_status_at=charger.firmware_status_at,
        diagnostics_status=charger.diagnostics_status,
        diagnostics_status_at=charger.diagnostics_status_at,
    )
