"""The operator's commands beyond ClearCache (reset, unlock_connector, change_availability,
trigger_message, data_transfer) to simulated chargers of both OCPP versions: what goes out in
each version's words, the charger's answer as the queue item's result, and its refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chargegate.sim.operations import VENDOR_ID
from support import Charger, Operator, Server, Simulators, assert_error, online, poll_queue
from test_charger_commands import queued


async def done(client: httpx.AsyncClient, charge_point_id: str, action: str, **params: Any) -> Any:
    """Send `action` with `params`; its queue item once resolved."""
    queue_uuid = await queued(client, charge_point_id, action=action, params=params)
    return await poll_queue(client, queue_uuid)


async def test_reset(shared_server: Server, op: Operator, simulators: Simulators) -> None:
    """1.6 takes soft or hard, 2.0.1 immediate or on_idle (with or without an EVSE): Accepted,
    and the charger restarts and boots again."""
    charger = await op.add_charger()
    cp = charger.charge_point_id
    sim = await online(simulators, shared_server, charger)
    v16 = simulators.ocpp_version == "1.6"
    kind = "hard" if v16 else "immediate"
    async with op.client() as client:
        reset = await done(client, cp, "reset", type=kind)
        assert reset == {
            "id": reset["id"],
            "status": "SUCCESS",
            "command": "reset",
            "result": {"status": "Accepted"},
        }
        await sim.wait_until(lambda: sim.boots == 2 and sim.online)
        if v16:
            assert (await done(client, cp, "reset", type="soft"))["status"] == "SUCCESS"
            assert [r["type"] for r in sim.requests("Reset")] == ["Hard", "Soft"]
        else:
            one = await done(client, cp, "reset", type="on_idle", evse=1)
            assert one["result"] == {"status": "Accepted"}
            assert sim.requests("Reset") == [{"type": "Immediate"}, {"type": "OnIdle", "evseId": 1}]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Rejected", "The charger rejected Reset (Rejected)"),
        (None, "The charger does not support Reset (it answered NotSupported"),
    ],
    ids=["rejected", "not-supported"],
)
async def test_reset_refused(
    shared_server: Server, op: Operator, simulators: Simulators, answer: str | None, reason: str
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger, reset=answer)
    kind = "soft" if simulators.ocpp_version == "1.6" else "on_idle"
    async with op.client() as client:
        failed = await done(client, charger.charge_point_id, "reset", type=kind)
    assert failed["status"] == "FAILURE" and failed["command"] == "reset", failed
    assert failed["reason"].startswith(reason), failed
    assert sim.boots == 1


async def test_unlock_connector(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """Unlocked; a port the charger has but does not know is the charger's to refuse (1.6
    NotSupported, TC_031; 2.0.1 UnknownConnector), and a failed unlock says so."""
    # Registered with two ports, the station has one.
    charger = await op.add_charger(2)
    cp = charger.charge_point_id
    sim = await online(simulators, shared_server, Charger(cp, charger.port_uuids[:1]))
    v16 = simulators.ocpp_version == "1.6"
    async with op.client() as client:
        unlocked = await done(client, cp, "unlock_connector", port=1)
        assert unlocked["status"] == "SUCCESS" and unlocked["result"] == {"status": "Unlocked"}
        unknown = await done(client, cp, "unlock_connector", port=2)
        said = "NotSupported" if v16 else "UnknownConnector"
        assert unknown["status"] == "FAILURE", unknown
        assert unknown["reason"] == f"The charger rejected UnlockConnector ({said})"
        sim.unlock = "UnlockFailed"
        failed = await done(client, cp, "unlock_connector", port=1)
        assert failed["reason"] == "The charger rejected UnlockConnector (UnlockFailed)"
    if v16:
        assert sim.requests("UnlockConnector") == [{"connectorId": n} for n in (1, 2, 1)]
    else:
        assert sim.requests("UnlockConnector") == [
            {"evseId": n, "connectorId": 1} for n in (1, 2, 1)
        ]


async def test_change_availability(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """A port out of service and back, and the whole charger (port 0 or none)."""
    charger = await op.add_charger(2)
    cp = charger.charge_point_id
    sim = await online(simulators, shared_server, charger)
    async with op.client() as client:
        out = await done(client, cp, "change_availability", port=2, operative=False)
        assert out["result"] == {"status": "Accepted"}
        await sim.wait_until(lambda: sim.connectors[2].status == "Unavailable")
        assert sim.connectors[1].status == "Available"
        back = await done(client, cp, "change_availability", operative=True)
        assert back["result"] == {"status": "Accepted"}
        await sim.wait_until(lambda: sim.connectors[2].status == "Available")
    if simulators.ocpp_version == "1.6":
        assert sim.requests("ChangeAvailability") == [
            {"connectorId": 2, "type": "Inoperative"},
            {"connectorId": 0, "type": "Operative"},
        ]
    else:
        assert sim.requests("ChangeAvailability") == [
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
            {"operationalStatus": "Operative"},
        ]


async def test_trigger_message(shared_server: Server, op: Operator, simulators: Simulators) -> None:
    """The charger sends what was asked for; one it does not implement says NotImplemented; a
    message the charger's version does not have is a 400."""
    charger = await op.add_charger()
    cp = charger.charge_point_id
    sim = await online(simulators, shared_server, charger)
    v16 = simulators.ocpp_version == "1.6"
    async with op.client() as client:
        status = await done(client, cp, "trigger_message", message="StatusNotification", port=1)
        assert status["result"] == {"status": "Accepted"}
        beat = await done(client, cp, "trigger_message", message="Heartbeat")
        assert beat["result"] == {"status": "Accepted"}
        await sim.wait_until(lambda: any(a == "Heartbeat" for a, _, _ in sim.answered))
        meter = "DiagnosticsStatusNotification" if v16 else "LogStatusNotification"
        unknown = await done(client, cp, "trigger_message", message=meter)
        assert unknown["reason"] == "The charger rejected TriggerMessage (NotImplemented)"
        other = "TransactionEvent" if v16 else "DiagnosticsStatusNotification"
        refused = await queued_error(client, cp, "trigger_message", message=other)
    version = "1.6" if v16 else "2.0.1"
    assert f"trigger_message on an OCPP {version} charger: message must be one of" in refused
    first = sim.requests("TriggerMessage")[0]
    if v16:
        assert first == {"requestedMessage": "StatusNotification", "connectorId": 1}
    else:
        assert first == {"requestedMessage": "StatusNotification", "evse": {"id": 1}}


async def queued_error(
    client: httpx.AsyncClient, charge_point_id: str, action: str, **params: Any
) -> str:
    response = await client.post(
        f"/chargers/{charge_point_id}/commands", json={"action": action, "params": params}
    )
    return assert_error(response, 400)


async def test_data_transfer(shared_server: Server, op: Operator, simulators: Simulators) -> None:
    """The charger's answer, data included, is the result; a vendor it does not know fails
    the command with its status."""
    charger = await op.add_charger()
    cp = charger.charge_point_id
    sim = await online(simulators, shared_server, charger)
    v16 = simulators.ocpp_version == "1.6"
    data: Any = "ping" if v16 else {"ping": [1, 2]}
    async with op.client() as client:
        echoed = await done(
            client, cp, "data_transfer", vendor_id=VENDOR_ID, message_id="echo", data=data
        )
        assert echoed["result"] == {"status": "Accepted", "data": data}
        unknown = await done(client, cp, "data_transfer", vendor_id="com.example")
        assert unknown["reason"] == "The charger rejected DataTransfer (UnknownVendorId)"
        if v16:
            refused = await queued_error(client, cp, "data_transfer", vendor_id="v", data={})
            assert "data must be text (1.6 DataTransfer carries a string)" in refused
    assert sim.requests("DataTransfer") == [
        {"vendorId": VENDOR_ID, "messageId": "echo", "data": data},
        {"vendorId": "com.example"},
    ]
