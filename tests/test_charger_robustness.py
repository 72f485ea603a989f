"""A charger that misbehaves must not hurt the server or the other chargers: bad frames get the
right CALLERROR and write nothing, oversized frames and floods cost the sender its socket,
silent sockets are found by keep-alive, a reconnect replaces a half-open socket, and a burst
of queued messages is applied in the order it was sent. Real sockets against a real server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from chargegate.domain.times import format_ocpp, utcnow
from chargegate.store.database import create_engine
from support import (
    Charger,
    Operator,
    Server,
    Simulators,
    accepted_cards,
    eventually,
    iso,
    online,
    poll_queue,
    poll_transaction,
)

CALL, CALLRESULT, CALLERROR = 2, 3, 4
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
START_REQUEST = {"1.6": "RemoteStartTransaction", "2.0.1": "RequestStartTransaction"}
ENERGY = "Energy.Active.Import.Register"

# Small limits so that abuse is cheap to produce: frames over 4 KiB, more than 50 CALLs at
# once (10/s sustained), or a pong missing for 1 s after a ping every 1 s.
MAX_SIZE, BURST, RATE = 4096, 50, 10
PING_INTERVAL_S, PING_TIMEOUT_S = 1.0, 1.0
LIMITS = {
    "CHARGEGATE_WS_MAX_SIZE": str(MAX_SIZE),
    "CHARGEGATE_CHARGER_BURST": str(BURST),
    "CHARGEGATE_CHARGER_RATE_PER_S": str(RATE),
    "CHARGEGATE_WS_PING_INTERVAL_S": str(PING_INTERVAL_S),
    "CHARGEGATE_WS_PING_TIMEOUT_S": str(PING_TIMEOUT_S),
}

# RFC 6455 / chargegate close codes.
MESSAGE_TOO_BIG, POLICY_VIOLATION, KEEPALIVE_TIMEOUT, REPLACED = 1009, 1008, 1011, 4000


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with tight frame, rate and keep-alive limits for this module."""
    with Server(workdir=tmp_path_factory.mktemp("limited"), extra_env=LIMITS).running() as instance:
        yield instance


# -- speaking OCPP on a bare socket ---------------------------------------------------------


def ts(at: datetime | None = None) -> str:
    return format_ocpp(at or utcnow())


def boot_payload(version: str) -> dict[str, Any]:
    if version == "1.6":
        return {"chargePointVendor": "acme", "chargePointModel": "robust"}
    return {"reason": "PowerUp", "chargingStation": {"vendorName": "acme", "model": "robust"}}


def status_payload(version: str, connector: int, status: str = "Available") -> dict[str, Any]:
    if version == "1.6":
        return {
            "connectorId": connector,
            "errorCode": "NoError",
            "status": status,
            "timestamp": ts(),
        }
    return {"timestamp": ts(), "connectorStatus": status, "evseId": connector, "connectorId": 1}


def start_payload(version: str, connector: int, id_tag: str, meter_wh: int) -> dict[str, Any]:
    """A well-formed 1.6 StartTransaction or 2.0.1 TransactionEvent(Started)."""
    if version == "1.6":
        return {
            "connectorId": connector,
            "idTag": id_tag,
            "meterStart": meter_wh,
            "timestamp": ts(),
        }
    return {
        "eventType": "Started",
        "timestamp": ts(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": f"tx-{uuid.uuid4().hex[:8]}"},
        "idToken": {"idToken": id_tag, "type": "ISO14443"},
        "evse": {"id": connector, "connectorId": 1},
        "meterValue": [meter_value(version, meter_wh)],
    }


def meter_value(version: str, wh: int, at: datetime | None = None) -> dict[str, Any]:
    sampled: dict[str, Any] = {"measurand": ENERGY}
    if version == "1.6":
        sampled.update(value=str(wh), unit="Wh")
    else:
        sampled.update(value=wh, unitOfMeasure={"unit": "Wh"})
    return {"timestamp": ts(at), "sampledValue": [sampled]}


def start_action(version: str) -> str:
    return "StartTransaction" if version == "1.6" else "TransactionEvent"


class RawCharger:
    """A charger on a plain WebSocket: sends exactly the frames it is given, and answers the
    server's own CALLs (Accepted for the actions in `accept`, else a CALLERROR)."""

    def __init__(self, ws: ClientConnection, version: str) -> None:
        self.ws = ws
        self.version = version
        self.accept: set[str] = set()
        self.server_calls: list[tuple[str, dict[str, Any]]] = []

    async def send(self, frame: str | list[Any]) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def _next(self) -> list[Any] | None:
        """Read one frame: a CALL of the server's is answered (None), anything else returned."""
        frame: list[Any] = json.loads(await self.ws.recv())
        if frame[0] != CALL:
            return frame
        self.server_calls.append((frame[2], frame[3]))
        if frame[2] in self.accept:
            await self.send([CALLRESULT, frame[1], {"status": "Accepted"}])
        else:
            await self.send([CALLERROR, frame[1], "NotImplemented", "", {}])
        return None

    async def answer(self) -> list[Any]:
        """The next frame from the server that is not a CALL of its own."""
        while (frame := await self._next()) is None:
            pass
        return frame

    async def call(self, frame: str | list[Any]) -> list[Any]:
        await self.send(frame)
        return await self.answer()

    async def boot(self) -> None:
        answer = await self.call([CALL, "boot", "BootNotification", boot_payload(self.version)])
        assert answer[:2] == [CALLRESULT, "boot"] and answer[2]["status"] == "Accepted", answer

    async def heartbeat(self, unique_id: str = "hb") -> None:
        answer = await self.call([CALL, unique_id, "Heartbeat", {}])
        assert answer[:2] == [CALLRESULT, unique_id] and "currentTime" in answer[2], answer

    async def server_call(self, action: str, timeout: float = 10.0) -> dict[str, Any]:
        """Read (and answer) the server's CALLs until `action` arrives; its payload."""
        async with asyncio.timeout(timeout):
            while not any(name == action for name, _ in self.server_calls):
                frame = await self._next()
                assert frame is None, f"unexpected frame while waiting for {action}: {frame}"
        return next(payload for name, payload in self.server_calls if name == action)


@contextlib.asynccontextmanager
async def raw_charger(server: Server, charger: Charger, version: str) -> Any:
    async with connect(
        f"{server.ws_url}/{charger.charge_point_id}",
        subprotocols=[websockets.Subprotocol(SUBPROTOCOL[version])],
        open_timeout=5,
    ) as ws:
        assert ws.subprotocol == SUBPROTOCOL[version]
        yield RawCharger(ws, version)


async def closed_by_server(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the server closes the connection; the close code it sent (None: no close
    frame, the TCP connection just went away)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as exc:
        return None if exc.rcvd is None else exc.rcvd.code
    except TimeoutError:
        raise AssertionError(f"the server did not close the socket within {timeout} s") from None
    raise AssertionError("unreachable")


async def ports(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/ports")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def online_flag(client: httpx.AsyncClient, charge_point_id: str) -> bool:
    flags = {p["online"] for p in await ports(client) if p["charge_point_id"] == charge_point_id}
    assert len(flags) == 1, flags
    return bool(flags.pop())


async def port_transactions(client: httpx.AsyncClient, port_uuid: str) -> httpx.Response:
    return await client.get("/transactions", params={"port_uuid": port_uuid, "limit": "0"})


# -- 1. bad input ---------------------------------------------------------------------------


def bad_frames(version: str) -> list[tuple[str, str | list[Any], str, set[str]]]:
    """(what, frame, message id of the answer, acceptable CALLERROR codes)."""
    v16 = version == "1.6"
    # 1.6 spells these "FormationViolation" and "OccurenceConstraintViolation".
    formation = "FormationViolation" if v16 else "FormatViolation"
    occurrence = "OccurenceConstraintViolation" if v16 else "OccurrenceConstraintViolation"
    missing = {"ProtocolError", occurrence}
    status = status_payload(version, 2)
    typed = {**status, ("connectorId" if v16 else "evseId"): "2"}
    untold = {k: v for k, v in status.items() if k not in ("status", "connectorStatus")}
    extra = {**status, "colour": "red"}
    enum = {**status, ("status" if v16 else "connectorStatus"): "Sleeping"}
    start = start_payload(version, 1, "TAG-BAD", 1000)
    if v16:
        start_typed = {**start, "meterStart": "1000"}
        start_missing = {k: v for k, v in start.items() if k != "meterStart"}
    else:
        start_typed = {**start, "seqNo": "0"}
        start_missing = {k: v for k, v in start.items() if k != "transactionInfo"}
    start_time = {**start, "timestamp": "not-a-time"}
    action = start_action(version)
    return [
        ("not JSON", "[2, 'x'", "-1", {formation}),
        # 2.0.1: "RpcFrameworkError: Content of the call is not a valid RPC Request, for
        # example: MessageId could not be read." 1.6 has no such code.
        (
            "not an array",
            '{"a": 1}',
            "-1",
            {"ProtocolError", formation} if v16 else {"RpcFrameworkError"},
        ),
        ("unknown action", [CALL, "u1", "MakeCoffee", {}], "u1", {"NotImplemented"}),
        # A real charger-to-CSMS action (security extension in 1.6) that chargegate lacks.
        ("unsupported", [CALL, "u2", "SignCertificate", {"csr": "x"}], "u2", {"NotSupported"}),
        # Actions are never file names: one that leads to a schema file of the library
        # (relative to the version's schema folder) is as unknown as any other.
        ("action with a path", [CALL, "u10", "../../something", {}], "u10", {"NotImplemented"}),
        (
            "action leading to a schema file",
            [
                CALL,
                "u11",
                "../../v201/schemas/AuthorizeRequest" if v16 else "../schemas/Authorize",
                {},
            ],
            "u11",
            {"NotImplemented"},
        ),
        (
            "wrong type",
            [CALL, "u3", "StatusNotification", typed],
            "u3",
            {"TypeConstraintViolation"},
        ),
        ("missing field", [CALL, "u4", "StatusNotification", untold], "u4", missing),
        ("unknown field", [CALL, "u5", "StatusNotification", extra], "u5", {formation}),
        (
            "value outside enum",
            [CALL, "u6", "StatusNotification", enum],
            "u6",
            {"PropertyConstraintViolation", formation},
        ),
        (
            f"{action} wrong type",
            [CALL, "u7", action, start_typed],
            "u7",
            {"TypeConstraintViolation"},
        ),
        (f"{action} missing field", [CALL, "u8", action, start_missing], "u8", missing),
        (
            f"{action} timestamp not a dateTime",
            [CALL, "u9", action, start_time],
            "u9",
            {"TypeConstraintViolation", "PropertyConstraintViolation", formation},
        ),
    ]


async def test_bad_input_gets_the_right_call_error(
    shared_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator = await shared_server.operator()
    charger, bystander = await operator.add_charger(), await operator.add_charger()
    wrong: list[str] = []
    async with (
        operator.client() as client,
        raw_charger(shared_server, charger, version) as bad,
        raw_charger(shared_server, bystander, version) as other,
    ):
        await bad.boot()
        await other.boot()
        before = await ports(client)
        for what, frame, unique_id, codes in bad_frames(version):
            answer = await bad.call(frame)
            well_formed = (
                len(answer) == 5
                and answer[:2] == [CALLERROR, unique_id]
                and isinstance(answer[3], str)
                and isinstance(answer[4], dict)
            )
            if not well_formed or answer[2] not in codes:
                wrong.append(
                    f"{what}: sent {frame!r}, expected one of {sorted(codes)}, got {answer}"
                )
        # Nothing was applied; the misbehaving charger's socket still serves, and so does
        # everyone else's.
        after = await ports(client)
        if after != before:
            wrong.append(f"ports changed: before {before}, after {after}")
        await bad.heartbeat("after-1")
        await other.heartbeat("after-2")
    assert not wrong, "\n".join(wrong)


async def test_bad_transaction_messages_write_nothing(
    shared_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    action = start_action(version)
    await accepted_cards(operator, "TAG-LOCAL")
    good_start = start_payload(version, 1, "TAG-LOCAL", 1000)
    good_on_3 = start_payload(version, 3, "TAG-LOCAL", 1000)
    if version == "1.6":
        bad_starts = [
            {**good_start, "meterStart": "1000"},
            {k: v for k, v in good_start.items() if k != "idTag"},
            {**good_start, "timestamp": "yesterday"},
            {**good_on_3, "connectorId": "3"},
            {**good_on_3, "timestamp": 17},
        ]
    else:
        bad_starts = [
            {**good_start, "seqNo": "0"},
            {k: v for k, v in good_start.items() if k != "transactionInfo"},
            {**good_start, "timestamp": "yesterday"},
            {**good_start, "eventType": "Begun"},
            {**good_on_3, "evse": {"id": "3", "connectorId": 1}},
            {**good_on_3, "transactionInfo": {"transactionId": 42}},
        ]
    bad_status = {**status_payload(version, 2), "timestamp": 17}
    async with operator.client() as client, raw_charger(shared_server, charger, version) as raw:
        await raw.boot()
        await raw.heartbeat()
        before = await ports(client)
        assert [p["connector_id"] for p in before] == [1] and before[0]["online"], before
        frames = [[CALL, f"s{n}", action, payload] for n, payload in enumerate(bad_starts)]
        frames.append([CALL, "st", "StatusNotification", bad_status])
        for frame in frames:
            answer = await raw.call(frame)
            assert answer[:2] == [CALLERROR, frame[1]], (frame, answer)

        assert (await port_transactions(client, charger.port)).status_code == 404
        assert await ports(client) == before

        # The same messages, well-formed, do leave a trace: the checks above can fail.
        answer = await raw.call([CALL, "ok1", action, good_start])
        assert answer[:2] == [CALLRESULT, "ok1"], answer
        listed = await port_transactions(client, charger.port)
        assert listed.status_code == 200 and len(listed.json()) == 1, listed.text
        answer = await raw.call([CALL, "ok2", "StatusNotification", status_payload(version, 2)])
        assert answer[:2] == [CALLRESULT, "ok2"], answer
        assert [p["connector_id"] for p in await ports(client)] == [1, 2]


# -- 2. oversized frames --------------------------------------------------------------------


async def test_a_frame_far_over_the_limit_still_gets_its_close_code(server: Server) -> None:
    """The server stops reading at a too-big frame's header. It used to close the socket then,
    with the rest of the frame still arriving, and the kernel answered that with a reset that
    overtook the close frame: for a megabyte, the charger mostly saw its connection drop
    without 1009, not knowing why."""
    operator = await server.operator()
    big = await operator.add_charger()
    for _ in range(3):
        async with raw_charger(server, big, "1.6") as raw:
            with contextlib.suppress(websockets.ConnectionClosed):
                await raw.send('[2,"big","Heartbeat",{}' + " " * 2**20 + "]")
                await raw.send('[2,"next","Heartbeat",{}]')
            assert await closed_by_server(raw.ws) == MESSAGE_TOO_BIG


async def test_oversized_frame_closes_only_that_socket(
    limited_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator = await limited_server.operator()
    big, neighbour = await operator.add_charger(), await operator.add_charger()
    sim = await online(simulators, limited_server, neighbour)
    async with operator.client() as client:
        async with raw_charger(limited_server, big, version) as raw:
            await raw.boot()
            await raw.heartbeat()
            # Valid JSON and a valid StatusNotification for a new connector, padded with
            # whitespace to twice the limit.
            frame = json.dumps([CALL, "big", "StatusNotification", status_payload(version, 2)])
            frame = frame[:-1] + " " * (2 * MAX_SIZE) + "]"
            await raw.send(frame)
            assert await closed_by_server(raw.ws) == MESSAGE_TOO_BIG

        # The neighbour, connected all along, is still served.
        answer = await asyncio.wait_for(sim.enqueue(("Heartbeat", {}), durable=False).done, 5)
        assert "currentTime" in answer
        created = await client.post(
            "/transactions", json={"port_uuid": neighbour.port, "expires": iso(600)}
        )
        assert created.status_code == 201, created.text
        opened = await poll_queue(client, created.json()["queue_uuid"], timeout=30)
        assert opened.get("state") == "Open", opened
        assert sim.start_requests == 1

        # The oversized frame was dropped, not applied; the sender is offline.
        await eventually_false(client, big.charge_point_id)
        mine = [p for p in await ports(client) if p["charge_point_id"] == big.charge_point_id]
        assert [p["connector_id"] for p in mine] == [1], mine


async def eventually_false(client: httpx.AsyncClient, charge_point_id: str) -> float:
    """Wait until the charger shows offline; how long that took."""
    started = time.monotonic()
    while await online_flag(client, charge_point_id):
        if time.monotonic() - started > 30:
            raise AssertionError(f"{charge_point_id} still online after 30 s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


# -- 3. floods ------------------------------------------------------------------------------


async def test_flood_closes_the_flooder_only(
    limited_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator = await limited_server.operator()
    flooder, neighbour = await operator.add_charger(), await operator.add_charger()
    sim = await online(simulators, limited_server, neighbour)
    flood_size = 2000

    async def neighbour_heartbeats() -> None:
        for _ in range(5):
            done = sim.enqueue(("Heartbeat", {}), durable=False).done
            try:
                answer = await asyncio.wait_for(done, 5)
            except TimeoutError:
                raise AssertionError("the neighbour's Heartbeat went unanswered for 5 s") from None
            assert "currentTime" in answer
            await asyncio.sleep(0.05)

    async with raw_charger(limited_server, flooder, version) as raw:
        await raw.boot()
        await raw.heartbeat()
        answers: list[list[Any]] = []

        async def flood() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                for n in range(flood_size):
                    await raw.ws.send(json.dumps([CALL, f"f{n}", "Heartbeat", {}]))

        async def collect() -> int | None:
            try:
                while True:
                    answers.append(json.loads(await raw.ws.recv()))
            except websockets.ConnectionClosed as exc:
                return None if exc.rcvd is None else exc.rcvd.code

        began = time.monotonic()
        try:
            _, close_code, _ = await asyncio.wait_for(
                asyncio.gather(flood(), collect(), neighbour_heartbeats()), 30
            )
        except TimeoutError:
            raise AssertionError(
                f"{flood_size} CALLs at once were not cut off: {len(answers)} answered, "
                "socket still open after 30 s"
            ) from None
        elapsed = time.monotonic() - began

    assert close_code == POLICY_VIOLATION, (close_code, len(answers))
    # Answers for the first CALLs, in order, then nothing: at most the burst (less the three
    # frames spent on boot) plus what the rate refilled meanwhile.
    ids = [answer[1] for answer in answers]
    assert ids == [f"f{n}" for n in range(len(answers))], ids
    assert all(answer[0] == CALLRESULT for answer in answers), answers
    assert BURST // 2 <= len(answers) <= BURST + RATE * elapsed + 1, (len(answers), elapsed)

    # Once the flood is over, the flooder may come back, when the server says (tests/
    # test_charger_bounds.py: its budget is its own, and reconnecting does not refill it).
    async with operator.client() as client:
        await eventually_false(client, flooder.charge_point_id)
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "the flooder was not let back within 30 s"
            try:
                async with raw_charger(limited_server, flooder, version) as again:
                    await again.boot()
                    await again.heartbeat()
                    if await online_flag(client, flooder.charge_point_id):
                        break
                    # Its heartbeat took the last of its budget: cut again, it tries again.
                    await asyncio.wait_for(again.ws.wait_closed(), 30)
                    assert again.ws.close_code == POLICY_VIOLATION, again.ws.close_code
            except websockets.InvalidStatus as exc:
                assert exc.response.status_code == 429, exc
                await asyncio.sleep(int(exc.response.headers["Retry-After"]))
            except websockets.ConnectionClosed as exc:
                # Let in with the last of its budget and cut again: the next try says when.
                assert exc.rcvd is not None and exc.rcvd.code == POLICY_VIOLATION, exc


# -- 4. keep-alive --------------------------------------------------------------------------


def masked_text_frame(text: str) -> bytes:
    """A client's text frame (clients must mask, RFC 6455 section 5.3)."""
    data = text.encode()
    mask = os.urandom(4)
    size = len(data)
    if size < 126:
        header = bytes([0x81, 0x80 | size])
    elif size < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked frames a server sent."""
    frames, at = [], 0
    while at + 2 <= len(data):
        opcode, masked, size = data[at] & 0x0F, data[at + 1] & 0x80, data[at + 1] & 0x7F
        at += 2
        if size == 126:
            size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif size == 127:
            size, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        assert not masked, "a server must not mask its frames"
        frames.append((opcode, data[at : at + size]))
        at += size
    return frames


@pytest.mark.parametrize("version", ["1.6", "2.0.1"], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_silent_charger_is_marked_offline(limited_server: Server, version: str) -> None:
    operator = await limited_server.operator()
    charger = await operator.add_charger()
    key = base64.b64encode(os.urandom(16)).decode()
    reader, writer = await asyncio.open_connection("127.0.0.1", limited_server.port)
    try:
        writer.write(
            f"GET /ocpp/{charger.charge_point_id} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{limited_server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL[version]}\r\n\r\n".encode()
        )
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode().lower()
        accepted_at = time.monotonic()
        assert head.startswith("http/1.1 101"), head
        expected_accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        assert f"sec-websocket-accept: {expected_accept.lower()}" in head, head
        assert f"sec-websocket-protocol: {SUBPROTOCOL[version]}" in head, head
        boot = json.dumps([CALL, "boot", "BootNotification", boot_payload(version)])
        writer.write(masked_text_frame(boot))
        await writer.drain()

        # From here on the charger reads nothing and answers no ping.
        async with operator.client() as client:
            # Online once the server has recorded the connection, just after its 101.
            await eventually(lambda: online_flag(client, charger.charge_point_id))
            await eventually_false(client, charger.charge_point_id)
        offline_after = time.monotonic() - accepted_at
        # Offline within one ping interval plus the pong timeout (and some slack), but not
        # before a ping could have gone unanswered.
        assert PING_INTERVAL_S <= offline_after <= PING_INTERVAL_S + PING_TIMEOUT_S + 5, (
            offline_after
        )

        # What the server had sent meanwhile: the boot answer, a ping, then a close.
        received = await asyncio.wait_for(reader.read(), 5)
        frames = server_frames(received)
        texts = [json.loads(payload) for opcode, payload in frames if opcode == 0x1]
        assert any(t[:2] == [CALLRESULT, "boot"] for t in texts), texts
        opcodes = [opcode for opcode, _ in frames]
        assert 0x9 in opcodes, opcodes
        assert opcodes[-1] == 0x8, opcodes
        close_code = int.from_bytes(frames[-1][1][:2], "big")
        assert close_code == KEEPALIVE_TIMEOUT, close_code
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# -- 5. half-open replacement ---------------------------------------------------------------


async def test_reconnect_replaces_half_open_socket(
    shared_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    async with operator.client() as client, raw_charger(shared_server, charger, version) as old:
        await old.boot()
        await old.heartbeat()
        # The charger comes back on a new socket while the server still holds the old one.
        new = await online(simulators, shared_server, charger)
        assert await closed_by_server(old.ws) == REPLACED
        # Closing the old socket does not take the charger offline: the new one is current.
        await asyncio.sleep(0.3)
        assert await online_flag(client, charger.charge_point_id)

        created = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert created.status_code == 201, created.text
        opened = await poll_queue(client, created.json()["queue_uuid"], timeout=30)
        assert opened.get("state") == "Open", opened
        assert new.start_requests == 1
        assert new.online and new.connections == 1
        assert not any(name == START_REQUEST[version] for name, _ in old.server_calls)


# -- 6. a burst of queued messages ----------------------------------------------------------


def burst_frames(
    version: str, start_request: dict[str, Any], transaction_id: int, readings: list[int]
) -> tuple[list[list[Any]], list[dict[str, Any]], datetime]:
    """The frames a charger flushes after reconnecting, and the answers they must get."""
    began = utcnow().replace(microsecond=0) - timedelta(seconds=60)
    at = [began + timedelta(seconds=10 * n) for n in range(len(readings))]
    first, middle, last = readings[0], readings[1:-1], readings[-1]
    if version == "1.6":
        tag = start_request["idTag"]
        frames: list[list[Any]] = [
            [
                CALL,
                "b0",
                "StartTransaction",
                {"connectorId": 1, "idTag": tag, "meterStart": first, "timestamp": ts(at[0])},
            ]
        ]
        for n, wh in enumerate(middle, start=1):
            frames.append(
                [
                    CALL,
                    f"b{n}",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": transaction_id,
                        "meterValue": [meter_value(version, wh, at[n])],
                    },
                ]
            )
        stop = {
            "transactionId": transaction_id,
            "idTag": tag,
            "meterStop": last,
            "timestamp": ts(at[-1]),
            "reason": "Local",
        }
        frames.append([CALL, f"b{len(readings) - 1}", "StopTransaction", stop])
        accepted: dict[str, Any] = {"idTagInfo": {"status": "Accepted"}}
        results: list[dict[str, Any]] = [
            {"transactionId": transaction_id, **accepted},
            *([{}] * len(middle)),
            accepted,
        ]
        return frames, results, began

    tx = f"tx-{uuid.uuid4().hex[:8]}"

    def event(n: int, kind: str, trigger: str, **extra: Any) -> list[Any]:
        info = {"transactionId": tx, **extra.pop("info", {})}
        payload = {
            "eventType": kind,
            "timestamp": ts(at[n]),
            "triggerReason": trigger,
            "seqNo": n,
            "transactionInfo": info,
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [meter_value(version, readings[n], at[n])],
            **extra,
        }
        return [CALL, f"b{n}", "TransactionEvent", payload]

    frames = [
        event(
            0,
            "Started",
            "RemoteStart",
            info={"remoteStartId": start_request["remoteStartId"]},
            idToken=start_request["idToken"],
        )
    ]
    frames += [event(n, "Updated", "MeterValuePeriodic") for n in range(1, len(readings) - 1)]
    frames.append(
        event(len(readings) - 1, "Ended", "EVDeparted", info={"stoppedReason": "EVDisconnected"})
    )
    results = [{"idTokenInfo": {"status": "Accepted"}}]
    results += [{} for _ in readings[1:]]
    return frames, results, began


async def row_id(server: Server, transaction_uuid: str) -> int:
    """The id chargegate gives a 1.6 charger for this transaction (its database row id). A 1.6
    charger that queues MeterValues and StopTransaction behind its StartTransaction must name
    the transaction before the server's answer arrives, so the test looks it up."""
    engine = create_engine(server.database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT id FROM transactions WHERE transaction_uuid = :uuid"),
                {"uuid": transaction_uuid},
            )
    finally:
        await engine.dispose()
    return int(found)


async def test_burst_of_queued_messages_is_applied_in_order(
    shared_server: Server, simulators: Simulators
) -> None:
    version = simulators.ocpp_version
    operator: Operator = await shared_server.operator()
    charger = await operator.add_charger()
    readings = [1000, 1100, 1250, 1300, 1420, 1500]
    async with operator.client() as client:
        async with raw_charger(shared_server, charger, version) as first:
            first.accept.add(START_REQUEST[version])
            await first.boot()
            await first.heartbeat()
            created = await client.post(
                "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
            )
            assert created.status_code == 201, created.text
            start_request = await first.server_call(START_REQUEST[version])
        # The network drops; charging goes on and the charger queues what it has to report.
        transaction_uuid = created.json()["transaction_uuid"]
        frames, results, began = burst_frames(
            version, start_request, await row_id(shared_server, transaction_uuid), readings
        )
        async with raw_charger(shared_server, charger, version) as second:
            # Right after reconnecting, everything goes out at once, without waiting.
            for frame in frames:
                await second.send(frame)
            answers = [await asyncio.wait_for(second.answer(), 10) for _ in frames]
        expected = [
            [CALLRESULT, frame[1], result] for frame, result in zip(frames, results, strict=True)
        ]
        assert answers == expected

        closed = await poll_transaction(
            client, transaction_uuid, lambda tx: tx["state"] != "Pending", timeout=30
        )
        assert closed["state"] == "Closed", closed
        assert closed["energy_wh"] == readings[-1] - readings[0], closed
        assert closed["started"] == began.strftime("%Y-%m-%dT%H:%M:%S"), closed
        ended = began + timedelta(seconds=10 * (len(readings) - 1))
        assert closed["ended"] == ended.strftime("%Y-%m-%dT%H:%M:%S"), closed
