"""How the simulated charger updates its firmware and uploads diagnostics, as stations with the
1.6 FirmwareManagement profile (2.0.1 blocks L and N) do: the request is answered at once, and
the work is reported as it goes (FirmwareStatusNotification: Downloading, Downloaded,
Installing, a reboot whose BootNotification carries the new version, Installed; or
DownloadFailed / InstallationFailed. DiagnosticsStatusNotification, 2.0.1
LogStatusNotification: Uploading, then Uploaded or UploadFailed / UploadFailure). Nothing is
really fetched or sent: the outcome is the simulator's setting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chargegate.domain.times import parse_ocpp, utcnow
from chargegate.ocpp.rpc import Handler, Payload

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger

# The outcomes a simulator can be set to.
INSTALLED = "Installed"
DOWNLOAD_FAILED = "DownloadFailed"
INSTALLATION_FAILED = "InstallationFailed"
UPLOADED = "Uploaded"
UPLOAD_FAILED = "UploadFailed"


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    v16 = sim.dialect.subprotocol == "ocpp1.6"

    async def update_firmware(payload: Payload) -> Payload:
        sim.received.append(("UpdateFirmware", payload))
        await sim.notify()
        outcome = sim.firmware_update or INSTALLED
        sim.spawn(_update(sim, payload, outcome, None if v16 else payload["requestId"]))
        return {} if v16 else {"status": "Accepted"}

    async def get_diagnostics(payload: Payload) -> Payload:
        action = "GetDiagnostics" if v16 else "GetLog"
        sim.received.append((action, payload))
        await sim.notify()
        file_name = f"{sim.charge_point_id}-diagnostics.log"
        sim.spawn(_upload(sim, None if v16 else payload["requestId"]))
        return {"fileName": file_name} if v16 else {"status": "Accepted", "filename": file_name}

    found: dict[str, Handler] = {}
    if sim.firmware_update is not None:
        found["UpdateFirmware"] = update_firmware
    if sim.diagnostics is not None:
        found["GetDiagnostics" if v16 else "GetLog"] = get_diagnostics
    return found


async def _update(
    sim: SimulatedCharger, payload: Payload, outcome: str, request_id: int | None
) -> None:
    firmware = payload.get("firmware", payload)
    retrieve = firmware.get("retrieveDateTime") or firmware["retrieveDate"]
    await asyncio.sleep(max(0.0, (parse_ocpp(retrieve) - utcnow()).total_seconds()))
    report = _reporter(sim, "FirmwareStatusNotification", request_id)
    await report("Downloading")
    if outcome == DOWNLOAD_FAILED:
        await report(DOWNLOAD_FAILED)
        return
    await report("Downloaded")
    await report("Installing")
    if sim.dialect.subprotocol != "ocpp1.6":
        await report("InstallRebooting")
    # The reboot: the connection drops, and the charger boots again (with the new firmware
    # unless installing it failed).
    await sim.stop()
    if outcome == INSTALLED:
        sim.firmware_version = PurePosixPath(urlsplit(firmware["location"]).path).stem
    sim.start()
    await sim.wait_until(lambda: sim.online)
    await report(outcome)


async def _upload(sim: SimulatedCharger, request_id: int | None) -> None:
    v16 = sim.dialect.subprotocol == "ocpp1.6"
    report = _reporter(
        sim, "DiagnosticsStatusNotification" if v16 else "LogStatusNotification", request_id
    )
    await report("Uploading")
    failed = "UploadFailed" if v16 else "UploadFailure"
    await report(UPLOADED if sim.diagnostics == UPLOADED else failed)


def _reporter(
    sim: SimulatedCharger, action: str, request_id: int | None
) -> Callable[[str], Awaitable[None]]:
    """Sends one status report and waits for its answer (2.0.1: naming our request)."""

    async def report(status: str) -> None:
        payload: Payload = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        await sim.enqueue((action, payload), durable=False).done

    return report
