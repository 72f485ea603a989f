"""The charger side of the server: handshake, authentication and OCPP-J error handling."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade
from support import Server, Simulators, basic, online


async def refused(url: str, **options: Any) -> int:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with connect(url, open_timeout=5, **options):
            pass
    return int(info.value.response.status_code)


async def call(ws: ClientConnection, frame: str | list[Any]) -> list[Any]:
    """Send a frame and return the server's answer to it. CALLs from the server (its question
    after boot about smart charging) get a CALLERROR, as from a minimal charger."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    while True:
        answer: list[Any] = json.loads(await ws.recv())
        if answer[0] != 2:
            return answer
        await ws.send(json.dumps([4, answer[1], "NotImplemented", "", {}]))


async def test_subprotocol_is_negotiated(shared_server: Server) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    url = f"{shared_server.ws_url}/{charger.charge_point_id}"
    assert await refused(url) == 403
    assert await refused(url, subprotocols=["ocpp1.5"]) == 403
    async with connect(url, subprotocols=["ocpp1.5", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_unknown_charger_is_refused(shared_server: Server) -> None:
    url = f"{shared_server.ws_url}/CP-unknown-{uuid.uuid4().hex[:6]}"
    assert await refused(url, subprotocols=["ocpp1.6"]) == 403


BOOTSTRAP_SECRET = "bootstrap-secret-of-this-fleet"


async def test_auto_register(tmp_path: Any, simulators: Simulators) -> None:
    """A new charger that sends the bootstrap secret registers itself, with its ports."""
    server = Server(
        workdir=tmp_path,
        extra_args=["--auto-register"],
        extra_env={"CHARGEGATE_AUTO_REGISTER_SECRET": BOOTSTRAP_SECRET},
    )
    await upgrade(server.database_url)
    server.start()
    try:
        operator = await server.operator("default")
        sim = SimulatedCharger(
            url=server.ws_url, charge_point_id="CP-NEW", connectors=2, password=BOOTSTRAP_SECRET
        )
        simulators.append(sim)
        sim.start()
        await sim.wait_until(lambda: sim.online)
        async with operator.client() as client:
            ports = (await client.get("/ports")).json()
        assert [(p["charge_point_id"], p["connector_id"]) for p in ports] == [
            ("CP-NEW", 1),
            ("CP-NEW", 2),
        ]
        assert all(p["online"] and p["status"] == "Available" for p in ports)
    finally:
        server.stop()


async def test_basic_auth(shared_server: Server, simulators: Simulators) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger(password="s3cret-pass")
    other = await operator.add_charger(password="other-pass")
    url = f"{shared_server.ws_url}/{charger.charge_point_id}"
    ocpp = {"subprotocols": ["ocpp1.6"]}
    assert await refused(url, **ocpp) == 403
    assert await refused(url, additional_headers=basic(charger.charge_point_id, "wrong"), **ocpp)
    # Another charger's valid credentials do not open this charger's id.
    assert await refused(url, additional_headers=basic(other.charge_point_id, "other-pass"), **ocpp)
    sim = await online(simulators, shared_server, charger, password="s3cret-pass")
    assert sim.online
    assert "s3cret-pass" not in shared_server.log()


@pytest.fixture
async def charger_socket(shared_server: Server) -> Any:
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    async with connect(
        f"{shared_server.ws_url}/{charger.charge_point_id}", subprotocols=["ocpp1.6"]
    ) as ws:
        yield ws


async def test_answers_and_call_errors(charger_socket: ClientConnection) -> None:
    ws = charger_socket
    boot = await call(
        ws, [2, "1", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}]
    )
    assert boot[:2] == [3, "1"] and boot[2]["status"] == "Accepted"
    assert boot[2]["currentTime"].endswith("Z")

    heartbeat = await call(ws, [2, "2", "Heartbeat", {}])
    assert heartbeat[0] == 3 and heartbeat[2]["currentTime"].endswith("Z")

    transfer = await call(ws, [2, "3", "DataTransfer", {"vendorId": "acme"}])
    assert transfer == [3, "3", {"status": "UnknownVendorId"}]

    unknown_tag = await call(ws, [2, "4", "Authorize", {"idTag": "RFID-1234"}])
    assert unknown_tag == [3, "4", {"idTagInfo": {"status": "Invalid"}}]

    not_json = await call(ws, "[2, 'x'")
    assert not_json[0] == 4 and not_json[2] == "FormationViolation"

    not_array = await call(ws, '{"a": 1}')
    assert not_array[0] == 4 and not_array[2] == "ProtocolError"

    unknown_action = await call(ws, [2, "5", "MakeCoffee", {}])
    assert unknown_action[:3] == [4, "5", "NotImplemented"]

    unsupported = await call(ws, [2, "6", "GetConfiguration", {}])
    assert unsupported[:3] == [4, "6", "NotSupported"]

    wrong_type = await call(ws, [2, "7", "StatusNotification", {"connectorId": "one"}])
    assert wrong_type[0] == 4 and wrong_type[1] == "7"
    assert wrong_type[2] in ("TypeConstraintViolation", "ProtocolError", "FormationViolation")

    missing = await call(ws, [2, "8", "StartTransaction", {"connectorId": 1}])
    assert missing[:3] == [4, "8", "ProtocolError"]

    # After all that, the connection still serves.
    assert (await call(ws, [2, "9", "Heartbeat", {}]))[0] == 3


async def test_stop_for_unknown_transaction_is_acknowledged(
    charger_socket: ClientConnection,
) -> None:
    stop = await call(
        charger_socket,
        [
            2,
            "s1",
            "StopTransaction",
            {"transactionId": 987654, "meterStop": 10, "timestamp": "2026-01-01T00:00:00Z"},
        ],
    )
    assert stop == [3, "s1", {}]
