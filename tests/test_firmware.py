"""Firmware updates and diagnostics through POST /1.2/chargers/<id>/commands (update_firmware,
get_diagnostics), followed through the queue item, the charger's status reports
(GET /1.2/chargers/<id>/firmware) and their webhook events: the OCA cases TC_044_1-3 and
TC_045_1-2 in 1.6, and their 2.0.1 counterparts (TC_L_01 firmware update, TC_N_ GetLog), run
against the simulator and the strict independent charger in each version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chargegate.domain.times import parse_ocpp
from chargegate.sim.charger import SimulatedCharger
from support import (
    Operator,
    Server,
    Simulators,
    assert_error,
    eventually,
    online,
    poll_queue,
    raw_charger,
)
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_reservations import hooked
from test_webhooks import Receiver, until

FIRMWARE = "https://files.example.com/fw/sim-2.0.bin"
UPLOADS = "ftp://logs.example.com/uploads/"
# What a charger reports of a whole firmware update, in each version (2.0.1 announces the
# reboot: InstallRebooting).
INSTALLED = {
    "1.6": ["Downloading", "Downloaded", "Installing", "Installed"],
    "2.0.1": ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"],
}
INSTALLATION_FAILED = {
    version: [*statuses[:-1], "InstallationFailed"] for version, statuses in INSTALLED.items()
}
DOWNLOAD_FAILED = ["Downloading", "DownloadFailed"]
UPLOAD_FAILED = {"1.6": "UploadFailed", "2.0.1": "UploadFailure"}


async def queued(client: httpx.AsyncClient, charge_point_id: str, body: dict[str, Any]) -> str:
    response = await client.post(f"/chargers/{charge_point_id}/commands", json=body)
    assert response.status_code == 202, response.text
    queue_uuid: str = response.json()["id"]
    return queue_uuid


async def reported(client: httpx.AsyncClient, charge_point_id: str) -> dict[str, Any]:
    response = await client.get(f"/chargers/{charge_point_id}/firmware")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(
    client: httpx.AsyncClient, charge_point_id: str, field: str, status: str
) -> dict[str, Any]:
    """GET .../firmware once `field` reads `status`."""

    async def there() -> bool:
        return (await reported(client, charge_point_id))[field] == status

    await eventually(there, timeout=20)
    return await reported(client, charge_point_id)


def statuses(sim: SimulatedCharger, action: str) -> list[str]:
    """The statuses the charger reported, as the server accepted them."""
    return [str(payload["status"]) for name, payload, _ in sim.answered if name == action]


def boots(sim: SimulatedCharger) -> list[str]:
    """The firmware version of each boot the server accepted."""
    return [
        payload.get("chargingStation", payload)["firmwareVersion"]
        for name, payload, answer in sim.answered
        if name == "BootNotification" and answer["status"] == "Accepted"
    ]


def near_now(ocpp_time: str) -> bool:
    return abs(parse_ocpp(ocpp_time) - datetime.now(UTC)) < timedelta(seconds=30)


def firmware_request(sim: SimulatedCharger, location: str) -> None:
    """The one UpdateFirmware sent: at once (no retrieve_date given), retries as asked."""
    [sent] = sim.requests("UpdateFirmware")
    if sim.dialect.subprotocol == "ocpp1.6":
        assert sent == {
            "location": location,
            "retrieveDate": sent["retrieveDate"],
            "retries": 0,
            "retryInterval": 30,
        }
        assert near_now(sent["retrieveDate"])
        return
    firmware = sent["firmware"]
    assert sent == {
        "requestId": sent["requestId"],
        "firmware": firmware,
        "retries": 0,
        "retryInterval": 30,
    }
    assert isinstance(sent["requestId"], int)
    assert firmware == {"location": location, "retrieveDateTime": firmware["retrieveDateTime"]}
    assert near_now(firmware["retrieveDateTime"])


async def update_firmware(
    op: Operator, sim: SimulatedCharger, cp: str, location: str = FIRMWARE
) -> dict[str, Any]:
    """Sends update_firmware; returns its settled queue item (the charger's receipt)."""
    body = {
        "action": "update_firmware",
        "params": {"location": location, "retries": 0, "retry_interval": 30},
    }
    async with op.client() as client:
        done = await poll_queue(client, await queued(client, cp, body))
    firmware_request(sim, location)
    return done


def answer_of(sim: SimulatedCharger) -> dict[str, Any]:
    """The answer to UpdateFirmware: 1.6 says nothing (an empty object), 2.0.1 a status."""
    return {} if sim.dialect.subprotocol == "ocpp1.6" else {"status": "Accepted"}


async def test_tc_044_1_firmware_download_and_install(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """TC_044_1 (2.0.1 TC_L_01): the charger downloads and installs, reboots on the new firmware
    (its BootNotification says so) and reports Installed; each status is stored and is a
    charger.firmware_status webhook event."""
    charger = await op.add_charger()
    cp = charger.charge_point_id
    async with hooked(shared_server, op) as receiver:
        sim = await online(simulators, shared_server, charger, firmware_version="sim-1.0")
        done = await update_firmware(op, sim, cp)
        assert done == {
            "id": done["id"],
            "status": "SUCCESS",
            "command": "update_firmware",
            "result": answer_of(sim),
        }
        async with op.client() as client:
            shown = await settled(client, cp, "firmware_status", "Installed")
        expected = INSTALLED[simulators.ocpp_version]
        await until(lambda: len(events(receiver, "charger.firmware_status")) == len(expected))
    assert statuses(sim, "FirmwareStatusNotification") == expected
    assert boots(sim) == ["sim-1.0", "sim-2.0"]
    assert sim.connections == 2
    if simulators.ocpp_version == "2.0.1":
        request_id = sim.requests("UpdateFirmware")[0]["requestId"]
        assert {p["requestId"] for n, p, _ in sim.answered if n.startswith("Firmware")} == {
            request_id
        }
    reports = events(receiver, "charger.firmware_status")
    assert [e["status"] for e in reports] == expected
    assert {e["charge_point_id"] for e in reports} == {cp}
    assert shown["firmware_status_at"] == reports[-1]["at"]
    assert (shown["diagnostics_status"], shown["diagnostics_status_at"]) == (None, None)


def events(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in receiver.events() if e["type"] == kind]


async def test_tc_044_2_firmware_download_failed(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """TC_044_2: the download fails (retries 0): the charger says DownloadFailed and keeps its
    firmware, without a reboot. The command itself succeeded: the charger took it."""
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger, firmware_update="DownloadFailed")
    location = "https://files.example.com/fw/does_not_exist_sim-2.0.bin"
    done = await update_firmware(op, sim, charger.charge_point_id, location)
    assert (done["status"], done["result"]) == ("SUCCESS", answer_of(sim))
    async with op.client() as client:
        await settled(client, charger.charge_point_id, "firmware_status", "DownloadFailed")
    assert statuses(sim, "FirmwareStatusNotification") == DOWNLOAD_FAILED
    assert sim.connections == 1 and boots(sim) == ["1.0"]


async def test_tc_044_3_firmware_installation_failed(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """TC_044_3: the install fails: after its reboot the charger runs the old firmware and
    says InstallationFailed."""
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger, firmware_update="InstallationFailed")
    await update_firmware(op, sim, charger.charge_point_id)
    async with op.client() as client:
        await settled(client, charger.charge_point_id, "firmware_status", "InstallationFailed")
    expected = INSTALLATION_FAILED[simulators.ocpp_version]
    assert statuses(sim, "FirmwareStatusNotification") == expected
    assert boots(sim) == ["1.0", "1.0"]


def diagnostics_request(sim: SimulatedCharger, start: str, stop: str) -> None:
    """The one GetDiagnostics (2.0.1 GetLog) sent, with the span asked for."""
    if sim.dialect.subprotocol == "ocpp1.6":
        assert sim.requests("GetDiagnostics") == [
            {"location": UPLOADS, "retries": 1, "startTime": start, "stopTime": stop}
        ]
        return
    [sent] = sim.requests("GetLog")
    assert sent == {
        "logType": "DiagnosticsLog",
        "requestId": sent["requestId"],
        "log": {"remoteLocation": UPLOADS, "oldestTimestamp": start, "latestTimestamp": stop},
        "retries": 1,
    }


@pytest.mark.parametrize("outcome", ["Uploaded", "UploadFailed"], ids=["tc_045_1", "tc_045_2"])
async def test_tc_045_get_diagnostics(
    shared_server: Server, op: Operator, simulators: Simulators, outcome: str
) -> None:
    """TC_045_1 (Uploaded) and TC_045_2 (UploadFailed; 2.0.1 says UploadFailure): the charger
    names the file it will upload, then reports Uploading and how it ended; each status is
    stored and is a charger.diagnostics_status webhook event."""
    version = simulators.ocpp_version
    charger = await op.add_charger()
    cp = charger.charge_point_id
    async with hooked(shared_server, op) as receiver:
        sim = await online(simulators, shared_server, charger, diagnostics=outcome)
        params = {
            "location": UPLOADS,
            "retries": 1,
            "start_time": "2026-01-01T00:00:00Z",
            "stop_time": "2026-01-02T00:00:00+00:00",
        }
        async with op.client() as client:
            body = {"action": "get_diagnostics", "params": params}
            done = await poll_queue(client, await queued(client, cp, body))
            last = outcome if outcome == "Uploaded" else UPLOAD_FAILED[version]
            shown = await settled(client, cp, "diagnostics_status", last)
        await until(lambda: len(events(receiver, "charger.diagnostics_status")) == 2)
    diagnostics_request(sim, "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z")
    file_name = f"{cp}-diagnostics.log"
    result = (
        {"fileName": file_name}
        if version == "1.6"
        else {"status": "Accepted", "filename": file_name}
    )
    assert (done["status"], done["command"], done["result"]) == (
        "SUCCESS",
        "get_diagnostics",
        result,
    )
    action = "DiagnosticsStatusNotification" if version == "1.6" else "LogStatusNotification"
    assert statuses(sim, action) == ["Uploading", last]
    reports = events(receiver, "charger.diagnostics_status")
    assert [e["status"] for e in reports] == ["Uploading", last]
    assert shown["diagnostics_status_at"] == reports[-1]["at"]
    assert shown["firmware_status"] is None


@pytest.mark.parametrize("action", ["update_firmware", "get_diagnostics"])
async def test_a_charger_without_firmware_management(
    shared_server: Server, op: Operator, simulators: Simulators, action: str
) -> None:
    """A charger without the FirmwareManagement profile answers with a CALLERROR: the queue item
    says it does not support the message."""
    charger = await op.add_charger()
    await online(simulators, shared_server, charger, firmware_update=None, diagnostics=None)
    async with op.client() as client:
        body = {"action": action, "params": {"location": FIRMWARE}}
        failed = await poll_queue(client, await queued(client, charger.charge_point_id, body))
    assert failed["status"] == "FAILURE", failed
    assert failed["reason"].startswith("The charger does not support"), failed


async def test_staging_sends_nothing(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """In the sandbox the params are checked all the same, and nothing goes out."""
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger)
    async with op.client() as client:
        for action in ("update_firmware", "get_diagnostics"):
            body = {"action": action, "params": {"location": FIRMWARE}, "stg": True}
            queue_uuid = await queued(client, charger.charge_point_id, body)
            asked = {"stg": "true", "stg_input": "Success"}
            done = (await client.get(f"/queue/{queue_uuid}", params=asked)).json()
            assert done == {
                "id": queue_uuid,
                "status": "SUCCESS",
                "command": action,
                "result": "Staging: no charger was contacted",
            }
            bad = {**body, "params": {"location": "file:///etc/passwd"}}
            refused = await client.post(f"/chargers/{charger.charge_point_id}/commands", json=bad)
            assert_error(refused, 400)
        assert (await reported(client, charger.charge_point_id))["firmware_status"] is None
    assert sim.requests("UpdateFirmware") == sim.requests("GetDiagnostics") == []
    assert sim.requests("GetLog") == []


LONG = "https://files.example.com/" + "a" * 2000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "update_firmware"}, "Missing param: location (an absolute ftp/ftps/http/https"),
        ({"action": "update_firmware", "params": {"location": "/fw/2.0.bin"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": "file:///etc/passwd"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": "javascript:alert(1)"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": "https://"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": "https://a b/c"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": "https://x/\n"}}, "absolute"),
        ({"action": "update_firmware", "params": {"location": LONG}}, "at most 2000 characters"),
        ({"action": "update_firmware", "params": {"location": 5}}, "absolute"),
        (
            {"action": "update_firmware", "params": {"location": FIRMWARE, "retries": -1}},
            "retries must be a whole number of at least 0",
        ),
        (
            {"action": "update_firmware", "params": {"location": FIRMWARE, "retry_interval": 1.5}},
            "retry_interval must be a whole number",
        ),
        (
            {
                "action": "update_firmware",
                "params": {"location": FIRMWARE, "retrieve_date": "soon"},
            },
            "retrieve_date: 'soon' is not an ISO 8601 timestamp",
        ),
        (
            {
                "action": "update_firmware",
                "params": {"location": FIRMWARE, "retrieve_date": "2030-01-01T00:00:00+0100"},
            },
            "is not in UTC",
        ),
        (
            {"action": "update_firmware", "params": {"location": FIRMWARE, "signature": ""}},
            "signature must be text of 1 to 800 characters",
        ),
        (
            {"action": "update_firmware", "params": {"location": FIRMWARE, "install": True}},
            "Unknown param(s): install. update_firmware takes: location, retrieve_date",
        ),
        (
            {
                "action": "get_diagnostics",
                "params": {
                    "location": UPLOADS,
                    "start_time": "2026-01-02T00:00:00Z",
                    "stop_time": "2026-01-01T00:00:00Z",
                },
            },
            "stop_time must not be before start_time",
        ),
        (
            {"action": "get_diagnostics", "params": {"location": UPLOADS, "signature": "x"}},
            "Unknown param(s): signature. get_diagnostics takes: location, start_time",
        ),
    ],
)
async def test_bad_params_are_refused(op: Operator, body: dict[str, Any], message: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        response = await client.post(f"/chargers/{charger.charge_point_id}/commands", json=body)
        assert message in assert_error(response, 400)
        assert (await reported(client, charger.charge_point_id))["firmware_status"] is None


# What each version refuses to take, and why.
REFUSED = {
    "1.6": (
        {"location": FIRMWARE, "signature": "c2ln", "signing_certificate": "-----BEGIN"},
        "update_firmware on an OCPP 1.6 charger: signing_certificate and signature are not "
        "taken (2.0.1 only)",
    ),
    "2.0.1": (
        {"location": "https://files.example.com/" + "a" * 487},
        "update_firmware on an OCPP 2.0.1 charger: location must be at most 512 characters",
    ),
}


async def test_params_a_version_does_not_take(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger)
    params, message = REFUSED[simulators.ocpp_version]
    async with op.client() as client:
        body = {"action": "update_firmware", "params": params}
        response = await client.post(f"/chargers/{charger.charge_point_id}/commands", json=body)
        assert message in assert_error(response, 400)
    assert sim.requests("UpdateFirmware") == []


async def test_a_signed_update_on_a_2_0_1_station(shared_server: Server, op: Operator) -> None:
    """2.0.1 UpdateFirmware carries the signing certificate and signature when given, and the
    retrieve time asked for (the station waits for it)."""
    charger = await op.add_charger()
    simulators = Simulators("2.0.1")
    sim = await online(simulators, shared_server, charger)
    try:
        params = {
            "location": FIRMWARE,
            "retrieve_date": "2026-01-01T00:00:00Z",
            "signing_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "signature": "c2lnbmF0dXJl",
        }
        async with op.client() as client:
            body = {"action": "update_firmware", "params": params}
            done = await poll_queue(client, await queued(client, charger.charge_point_id, body))
        assert done["status"] == "SUCCESS", done
        [sent] = sim.requests("UpdateFirmware")
        assert sent["firmware"] == {
            "location": FIRMWARE,
            "retrieveDateTime": "2026-01-01T00:00:00.000Z",
            "signingCertificate": params["signing_certificate"],
            "signature": params["signature"],
        }
        assert "retries" not in sent and "retryInterval" not in sent
    finally:
        await sim.power_off()


# How each version's schema check names a status outside the enum.
VIOLATIONS = {"ocpp1.6": "FormationViolation", "ocpp2.0.1": "FormatViolation"}


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_idle_and_unsolicited_reports(op: Operator, subprotocol: str) -> None:
    """A status without a request of ours (1.6: the Idle a TriggerMessage asks for; 2.0.1
    without a requestId) is answered and kept as the latest; one outside the schema is
    refused."""
    v16 = subprotocol == "ocpp1.6"
    diagnostics = "DiagnosticsStatusNotification" if v16 else "LogStatusNotification"
    async with raw_charger(op, subprotocol) as (raw, charger):
        assert await raw.call("FirmwareStatusNotification", {"status": "Idle"}) == {}
        assert await raw.call(diagnostics, {"status": "Idle"}) == {}
        refused = await raw.exchange("FirmwareStatusNotification", {"status": "Exploded"})
        assert refused[0] == 4 and refused[2] == VIOLATIONS[subprotocol], refused
        async with op.client() as client:
            shown = await reported(client, charger.charge_point_id)
    assert (shown["firmware_status"], shown["diagnostics_status"]) == ("Idle", "Idle")
    assert shown["firmware_status_at"] is not None


async def test_unknown_and_bad_chargers(op: Operator) -> None:
    async with op.client() as client:
        unknown = await client.get("/chargers/NO-SUCH-CHARGER/firmware")
        assert "Charger not found" in assert_error(unknown, 404)
        bad = await client.get(f"/chargers/{'X' * 49}/firmware")
        assert_error(bad, 400)
        charger = await op.add_charger()
        extra = await client.get(f"/chargers/{charger.charge_point_id}/firmware?x=1")
        assert "Unknown field(s): x" in assert_error(extra, 400)


# -- the strict independent charger ---------------------------------------------------------


@pytest.mark.parametrize(
    "outcome",
    ["Installed", "DownloadFailed", "InstallationFailed"],
    ids=["tc_044_1", "tc_044_2", "tc_044_3"],
)
@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_tc_044_firmware_with_an_independent_strict_charger(
    shared_server: Server, op: Operator, dialect: Dialect, outcome: str
) -> None:
    """Our UpdateFirmware and our answers to its status reports validate against ocpp-rpc's own
    schemas; the charger reboots (a new connection and BootNotification) unless the download
    failed."""
    charger = await op.add_charger()
    cp = charger.charge_point_id
    node = NodeCharger(shared_server, charger, dialect, f"--firmware={outcome}")
    async with running(node), op.client() as client:
        body = {"action": "update_firmware", "params": {"location": FIRMWARE}}
        done = await poll_queue(client, await queued(client, cp, body))
        await settled(client, cp, "firmware_status", outcome)
    assert done["status"] == "SUCCESS", done
    [sent] = [e["params"] for e in node.of("call", "UpdateFirmware")]
    if dialect.v201:
        assert sent["firmware"]["location"] == FIRMWARE and isinstance(sent["requestId"], int)
        assert done["result"] == {"status": "Accepted"}
    else:
        assert sent["location"] == FIRMWARE and near_now(sent["retrieveDate"])
        assert done["result"] == {}
    reported_statuses = [
        e["params"]["status"] for e in node.of("result", "FirmwareStatusNotification")
    ]
    version = dialect.version
    expected = {
        "Installed": INSTALLED[version],
        "DownloadFailed": DOWNLOAD_FAILED,
        "InstallationFailed": INSTALLATION_FAILED[version],
    }[outcome]
    assert reported_statuses == expected
    rebooted = [e["firmwareVersion"] for e in node.of("rebooted")]
    assert (
        rebooted
        == {"Installed": ["sim-2.0"], "DownloadFailed": [], "InstallationFailed": ["2.2"]}[outcome]
    )


@pytest.mark.parametrize("outcome", ["Uploaded", "Failed"], ids=["tc_045_1", "tc_045_2"])
@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_tc_045_diagnostics_with_an_independent_strict_charger(
    shared_server: Server, op: Operator, dialect: Dialect, outcome: str
) -> None:
    charger = await op.add_charger()
    cp = charger.charge_point_id
    node = NodeCharger(shared_server, charger, dialect, f"--diagnostics={outcome}")
    last = "Uploaded" if outcome == "Uploaded" else UPLOAD_FAILED[dialect.version]
    async with running(node), op.client() as client:
        params = {"location": UPLOADS, "start_time": "2026-01-01T00:00:00Z"}
        body = {"action": "get_diagnostics", "params": params}
        done = await poll_queue(client, await queued(client, cp, body))
        await settled(client, cp, "diagnostics_status", last)
    assert done["status"] == "SUCCESS", done
    action = "GetLog" if dialect.v201 else "GetDiagnostics"
    [sent] = [e["params"] for e in node.of("call", action)]
    [answer] = [e["result"] for e in node.of("reply", action)]
    assert done["result"] == answer
    if dialect.v201:
        assert sent["log"] == {
            "remoteLocation": UPLOADS,
            "oldestTimestamp": "2026-01-01T00:00:00.000Z",
        }
    else:
        assert sent == {"location": UPLOADS, "startTime": "2026-01-01T00:00:00.000Z"}


@pytest.mark.parametrize("answer", ["Rejected", "InvalidCertificate", "RevokedCertificate"])
async def test_a_2_0_1_station_refuses_an_update(
    shared_server: Server, op: Operator, answer: str
) -> None:
    charger = await op.add_charger()
    node = NodeCharger(shared_server, charger, V201, f"--update-firmware={answer}")
    async with running(node), op.client() as client:
        body = {"action": "update_firmware", "params": {"location": FIRMWARE}}
        failed = await poll_queue(client, await queued(client, charger.charge_point_id, body))
    assert failed["status"] == "FAILURE", failed
    assert failed["reason"] == f"The charger rejected UpdateFirmware ({answer})", failed
    assert node.of("send", "FirmwareStatusNotification") == []
