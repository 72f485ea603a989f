"""What both OCPP versions word alike in UpdateFirmware and GetDiagnostics / GetLog, and in the
charger's reports of how they go."""

from __future__ import annotations

from datetime import datetime

from chargegate.domain.file_transfers import DiagnosticsParams, FirmwareParams
from chargegate.domain.times import format_ocpp
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.services import file_transfers
from chargegate.services.file_transfers import Transfer
from chargegate.services.runtime import Runtime


def retrying(params: FirmwareParams | DiagnosticsParams) -> Payload:
    """retries and retryInterval, where the operator set them (else the charger decides)."""
    payload: Payload = {}
    if params.retries is not None:
        payload["retries"] = params.retries
    if params.retry_interval is not None:
        payload["retryInterval"] = params.retry_interval
    return payload


def retrieve_at(params: FirmwareParams, issued_at: datetime) -> str:
    """When to download: as asked, else at once."""
    return format_ocpp(params.retrieve_date or issued_at)


def span(params: DiagnosticsParams, start: str, stop: str) -> Payload:
    """The log span asked for, under each version's names."""
    payload: Payload = {}
    if params.start_time is not None:
        payload[start] = format_ocpp(params.start_time)
    if params.stop_time is not None:
        payload[stop] = format_ocpp(params.stop_time)
    return payload


def status_handlers(
    rt: Runtime, charge_point_id: str, firmware_action: str, diagnostics_action: str
) -> dict[str, Handler]:
    """The two progress reports, named as each version names them (1.6 FirmwareStatus- and
    DiagnosticsStatusNotification, 2.0.1 FirmwareStatus- and LogStatusNotification). A 2.0.1
    report may carry the requestId of our request (the command's id): the status is the
    charger's latest whichever request it is about, so it is not needed."""

    def recording(transfer: Transfer) -> Handler:
        async def handle(payload: Payload) -> Payload:
            await file_transfers.reported(rt, charge_point_id, transfer, payload["status"])
            return {}

        return handle

    return {
        firmware_action: recording(Transfer.FIRMWARE),
        diagnostics_action: recording(Transfer.DIAGNOSTICS),
    }
