"""Hostile OCPP frames against the real WebSocket endpoint (hypothesis).

A registered charger of each OCPP version keeps one socket open (reconnecting when the server
closes it) and sends arbitrary and near-valid frames: random JSON, wrong types and message type
ids, huge numbers, deep nesting, unpaired surrogate and NUL escapes, binary frames, invalid UTF-8
and oversized frames, and valid actions with one field broken. Throughout, the server stays up
(/healthz 200), answers every CALL with a CALLRESULT or a CALLERROR whose code exists in that
version (never InternalError: that is our bug, not the charger's), closes the socket only for
invalid UTF-8 (1007) or an oversized frame (1009), changes nothing when it does not accept a
frame, and keeps serving a bystander charger connected all along.

CHARGEGATE_FUZZ_EXAMPLES sets the number of frames; `make fuzz` sends many more, with a random
seed (set, the variable also turns off hypothesis's fixed derandomized seed)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chargegate.store.migrate import upgrade_sync
from support import Charger, Operator, Server

EXAMPLES = int(os.environ.get("CHARGEGATE_FUZZ_EXAMPLES", "60"))
MAX_SIZE = 65536  # CHARGEGATE_WS_MAX_SIZE's default
INVALID_PAYLOAD_DATA, MESSAGE_TOO_BIG = 1007, 1009
CODES = {
    "1.6": {
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
        "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
        "TypeConstraintViolation", "GenericError",
    },
    "2.0.1": {
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
        "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
        "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
        "TypeConstraintViolation",
    },
}  # fmt: skip
ACTIONS = [
    "BootNotification", "Heartbeat", "StatusNotification", "StartTransaction", "StopTransaction",
    "MeterValues", "Authorize", "TransactionEvent", "DataTransfer", "NoSuchAction",
]  # fmt: skip
AT = "2026-01-01T00:00:00Z"
VALID: dict[str, dict[str, dict[str, Any]]] = {
    "1.6": {
        "BootNotification": {"chargePointVendor": "fuzz", "chargePointModel": "fuzz"},
        "Heartbeat": {},
        "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        "StartTransaction": {"connectorId": 1, "idTag": "x", "meterStart": 0, "timestamp": AT},
        "StopTransaction": {"transactionId": 1, "meterStop": 10, "timestamp": AT},
        "MeterValues": {
            "connectorId": 1,
            "meterValue": [{"timestamp": AT, "sampledValue": [{"value": "10"}]}],
        },
    },
    "2.0.1": {
        "BootNotification": {
            "reason": "PowerUp", "chargingStation": {"model": "fuzz", "vendorName": "fuzz"},
        },
        "Heartbeat": {},
        "StatusNotification": {
            "timestamp": AT, "connectorStatus": "Available", "evseId": 1, "connectorId": 1,
        },
        "MeterValues": {
            "evseId": 1, "meterValue": [{"timestamp": AT, "sampledValue": [{"value": 10}]}],
        },
        "TransactionEvent": {
            "eventType": "Started", "timestamp": AT, "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "t1"}, "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "x", "type": "Central"},
        },
    },
}  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Raw JSON tokens json.dumps never writes: numbers beyond any integer or float type (Python's
# parser refuses integers of more than 4300 digits), and escapes of strings that cannot be stored.
raw_tokens = st.sampled_from(
    [
        "1e999", "-1e999", "1e-999", str(2**64), str(-(2**63) - 1), "9" * 5000, "0." + "0" * 400,
        '"\\ud800"', '"\\udfff"', '"x\\ud83dy"', '"\\u0000"', '"a\\u0000b"', '"\\ud83d\\ude00"',
    ]
)  # fmt: skip


@dataclass(frozen=True)
class Frame:
    """What goes on the wire: text, or bytes in a binary frame or (invalid UTF-8) a text one."""

    data: str | bytes
    text: bool = True

    @property
    def parsed(self) -> Any:
        if not self.text:
            # The server reads a binary frame as the text it would decode to.
            return Frame(self.data.decode(errors="replace")).parsed  # type: ignore[union-attr]
        try:
            return json.loads(self.data)
        except (ValueError, RecursionError):
            return None


@st.composite
def mutated_call(draw: st.DrawFn, version: str) -> str:
    """A valid CALL of this version with one field replaced (by JSON or a raw token), removed,
    or added."""
    action = draw(st.sampled_from(sorted(VALID[version])))
    payload = dict(VALID[version][action])
    key = draw(st.sampled_from([*payload, "extra"]))
    how = draw(st.sampled_from(["value", "raw", "drop"]))
    uid = draw(st.text(min_size=1, max_size=36))
    if how == "drop":
        payload.pop(key, None)
    elif how == "value":
        payload[key] = draw(json_values)
    else:
        payload[key] = "@RAW@"
        return json.dumps([2, uid, action, payload]).replace('"@RAW@"', draw(raw_tokens))
    return json.dumps([2, uid, action, payload])


@st.composite
def deep(draw: st.DrawFn) -> str:
    """Nesting from shallow to far deeper than the parser's recursion allows, at the top or
    inside a payload."""
    depth = draw(st.integers(min_value=1, max_value=30_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    where = draw(st.sampled_from(["top", "payload", "field"]))
    if where == "top":
        return nested
    if where == "payload":
        return f'[2,"deep","Heartbeat",{{"a":{nested}}}]'
    return f'[2,"deep","DataTransfer",{{"vendorId":"v","data":{nested}}}]'


def frames(version: str) -> st.SearchStrategy[Frame]:
    text = st.one_of(
        json_values.map(json.dumps),
        st.text(max_size=60),  # mostly not JSON at all
        st.builds(
            lambda kind, uid, action, payload: json.dumps([kind, uid, action, payload]),
            st.sampled_from([2, 3, 4, 5, -1, 2**40]),
            st.text(max_size=36) | st.integers(),
            st.sampled_from(ACTIONS) | st.text(max_size=20),
            json_values,
        ),
        mutated_call(version),
        mutated_call(version),  # near-valid frames find the most: twice the weight
        st.builds(  # well-formed CALLs with any action and payload
            lambda uid, action, payload: json.dumps([2, uid, action, payload]),
            st.text(min_size=1, max_size=36),
            st.sampled_from(ACTIONS) | st.text(max_size=20),
            st.dictionaries(st.text(max_size=10), json_values, max_size=4),
        ),
        st.lists(json_values, max_size=6).map(json.dumps),
        deep(),
    )
    return st.one_of(
        text.map(Frame),
        # Binary frames: arbitrary bytes, and CALLs sent as bytes instead of text.
        st.binary(max_size=60).map(lambda b: Frame(b, text=False)),
        mutated_call(version).map(lambda s: Frame(s.encode(), text=False)),
        # Text frames that are not UTF-8.
        st.binary(min_size=1, max_size=30).map(lambda b: Frame(b'[2,"x","' + b + b'\xff"]')),
        # Over the size limit: padding inside an otherwise valid CALL, or plain junk.
        st.integers(min_value=MAX_SIZE + 1, max_value=2 * MAX_SIZE).map(
            lambda n: Frame('[2,"big","Heartbeat",{}' + " " * n + "]")
        ),
    )


@dataclass
class Link:
    """One charger's socket, reopened whenever the server has closed it."""

    server: Server
    charger: Charger
    version: str
    socket: ClientConnection | None = None
    sentinels: int = 0
    reconnects: int = field(default=0)

    async def open(self) -> ClientConnection:
        if self.socket is None:
            self.socket = await connect(
                f"{self.server.ws_url}/{self.charger.charge_point_id}",
                subprotocols=[f"ocpp{self.version}"],  # type: ignore[list-item]
                max_size=None,
            )
            self.reconnects += 1
        return self.socket

    async def exchange(self, frame: Frame) -> tuple[list[list[Any]], int | None]:
        """Send the frame, then a Heartbeat: frames are handled in order, so whatever the
        server answers to the frame arrives before the Heartbeat's answer. Returns those
        answers (CALLs the server makes meanwhile are left out) and the close code, if the
        server closed the socket instead."""
        socket = await self.open()
        self.sentinels += 1
        sentinel = f"sentinel-{self.sentinels}"
        answers: list[list[Any]] = []
        try:
            await socket.send(frame.data, text=frame.text)
            await socket.send(json.dumps([2, sentinel, "Heartbeat", {}]))
            while True:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if answer[1] == sentinel:
                    assert answer[0] == 3, answer
                    return answers, None
                if answer[0] != 2:
                    answers.append(answer)
        except ConnectionClosed as closed:
            self.socket = None
            return answers, closed.rcvd.code if closed.rcvd else None


@dataclass
class Target:
    server: Server
    operator: Operator
    links: dict[str, Link]
    bystander: Link
    http: httpx.Client

    def snapshot(self) -> Any:
        """What an invalid frame must not change: ports (but whether a socket is open) and the
        transactions of every fuzzed port."""
        response = self.http.get("/ports")
        assert response.status_code == 200, response.text
        ports = response.json()
        lists = []
        for link in self.links.values():
            for port in link.charger.port_uuids:
                listed = self.http.get("/transactions", params={"port_uuid": port, "limit": 0})
                lists.append((listed.status_code, listed.json()))
        return [{k: v for k, v in p.items() if k != "online"} for p in ports], lists


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = Server(
        workdir=tmp_path_factory.mktemp("fuzz"),
        # One socket sends thousands of frames, and every frame costs a few API reads: no rate
        # limits.
        extra_env={
            f"CHARGEGATE_{which}": "100000"
            for which in ("CHARGER_RATE_PER_S", "CHARGER_BURST", "API_RATE_PER_S", "API_BURST")
        },
    )
    upgrade_sync(server.database_url)
    server.start()
    operator = asyncio.run(server.operator())
    links = {
        version: Link(server, asyncio.run(operator.add_charger(connectors=2)), version)
        for version in ("1.6", "2.0.1")
    }
    bystander = Link(server, asyncio.run(operator.add_charger()), "1.6")
    with httpx.Client(base_url=server.api, headers=operator.headers, timeout=10) as http:
        yield Target(server, operator, links, bystander, http)
    server.stop()


def is_call(frame: Any) -> bool:
    return (
        isinstance(frame, list)
        and len(frame) == 4
        and frame[0] == 2
        and isinstance(frame[1], str)
        and isinstance(frame[2], str)
        and isinstance(frame[3], dict)
    )


def check_answers(frame: Frame, version: str, answers: list[list[Any]], closed: int | None) -> bool:
    """Asserts what the server may answer to `frame`; returns whether it accepted the frame."""
    size = len(frame.data.encode() if isinstance(frame.data, str) else frame.data)
    for answer in answers:
        assert answer[0] in (3, 4), answer
        if answer[0] == 4:
            assert len(answer) == 5, answer
            assert answer[2] in CODES[version] and answer[2] != "InternalError", answer
            assert isinstance(answer[3], str) and isinstance(answer[4], dict), answer
    if closed is not None:
        # Only frames that are not UTF-8 text or are too big may cost the charger its socket.
        utf8 = not frame.text or isinstance(frame.data, str)
        expected = MESSAGE_TOO_BIG if size > MAX_SIZE else None if utf8 else INVALID_PAYLOAD_DATA
        assert closed == expected, (closed, frame)
        assert not answers, answers
        return False
    assert size <= MAX_SIZE, "an oversized frame was read"
    parsed = frame.parsed
    if is_call(parsed):
        assert len(answers) == 1, answers
        # "-1": refused as unparseable, which a frame nested near the recursion limit can be on
        # the server (deeper stack) though it parsed here.
        assert answers[0][1] == parsed[1] or answers[0][:2] == [4, "-1"], answers
        return bool(answers[0][0] == 3)
    # Anything else is never "accepted": at most an error, and no result.
    assert all(answer[0] == 4 for answer in answers), answers
    assert len(answers) <= 1, answers
    return False


def test_hostile_frames(target: Target) -> None:
    async def bystander_served() -> None:
        answers, closed = await target.bystander.exchange(Frame('[2,"hb","Heartbeat",{}]'))
        assert closed is None and len(answers) == 1 and "currentTime" in answers[0][2], answers
        assert target.bystander.reconnects == 1, "the bystander's socket was closed"

    loop = asyncio.new_event_loop()
    loop.run_until_complete(bystander_served())

    @given(data=st.data(), version=st.sampled_from(["1.6", "2.0.1"]))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize="CHARGEGATE_FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=list(HealthCheck),
    )
    def check(data: st.DataObject, version: str) -> None:
        frame = data.draw(frames(version), label="frame")
        link = target.links[version]
        loop.run_until_complete(link.open())  # a reconnect is not part of the frame's effect
        before = target.snapshot()
        answers, closed = loop.run_until_complete(link.exchange(frame))
        accepted = check_answers(frame, version, answers, closed)
        if not accepted:
            assert target.snapshot() == before
        loop.run_until_complete(bystander_served())
        assert target.server.process is not None and target.server.process.poll() is None
        assert httpx.get(f"{target.server.base_url}/healthz", timeout=5).status_code == 200

    try:
        check()
        ports = {p["port_uuid"]: p for p in target.http.get("/ports").json()}
        assert ports[target.bystander.charger.port]["online"] is True
    finally:
        for link in (*target.links.values(), target.bystander):
            if link.socket is not None:
                loop.run_until_complete(link.socket.close())
        loop.close()
