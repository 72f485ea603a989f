"""Interoperability: whole sessions driven against a charger we did not write.

The charger is tests/js/strict_charger.mjs, built on the npm package ocpp-rpc in strict mode:
every CALL our server sends and every CALLRESULT it answers with is validated against
ocpp-rpc's own OCPP 1.6 or 2.0.1 schemas. The test runs once per version. Needs node and
`make js-deps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegate.domain.charger_input import SkippedReading
from support import (
    Charger,
    Server,
    eventually,
    iso,
    metric,
    poll_queue,
    poll_transaction,
    transactions,
)
from test_charger_text import CLEANED, query
from test_stops import FAST_STOPS

JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "strict_charger.mjs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for ocpp-rpc)"),
    pytest.mark.skipif(
        not (JS_DIR / "node_modules" / "ocpp-rpc" / "package.json").is_file(),
        reason="npm package ocpp-rpc is not installed in tests/js: run `make js-deps`",
    ),
]

# Events the charger reports when something broke; none may occur.
FAILURES = {
    "strictValidationFailure",
    "badMessage",
    "callError",
    "error",
    "unwantedChargingProfile",
}

Event = dict[str, Any]
Payload = dict[str, Any]


@dataclass(frozen=True)
class Dialect:
    """How one OCPP version words what the test checks. In both, the charger's events name the
    connector (2.0.1: the EVSE) connectorId and the idTag (2.0.1: idToken.idToken) idTag."""

    version: str
    subprotocol: str
    start_request: str
    stop_request: str
    # The CALL the server probes a charger's smart charging with, after boot.
    probe: str

    @property
    def v201(self) -> bool:
        return self.version == "2.0.1"

    def token_of(self, params: Payload) -> str:
        """The idTag of a start request or an Authorize."""
        return str(params["idToken"]["idToken"] if self.v201 else params["idTag"])

    def token_info(self, status: str) -> Payload:
        return {"idTokenInfo" if self.v201 else "idTagInfo": {"status": status}}

    def start_params(self, connector_id: int, started: Event) -> Payload:
        """The whole start request the server must send: no charging profile in it."""
        if self.v201:
            return {
                "idToken": {"idToken": started["idTag"], "type": "Central"},
                "remoteStartId": started["remoteStartId"],
                "evseId": connector_id,
            }
        return {"connectorId": connector_id, "idTag": started["idTag"]}


V16 = Dialect(
    "1.6", "ocpp1.6", "RemoteStartTransaction", "RemoteStopTransaction", "GetConfiguration"
)
V201 = Dialect(
    "2.0.1", "ocpp2.0.1", "RequestStartTransaction", "RequestStopTransaction", "GetVariables"
)


class NodeCharger:
    """strict_charger.mjs as a subprocess; its JSON-lines stdout collected as events."""

    def __init__(self, server: Server, charger: Charger, dialect: Dialect, *options: str) -> None:
        self.dialect = dialect
        self.args = [
            str(SCRIPT),
            server.ws_url,
            charger.charge_point_id,
            str(len(charger.port_uuids)),
            dialect.version,
            *options,
        ]
        self.events: list[Event] = []
        self.stderr = b""
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        assert NODE is not None
        self.process = await asyncio.create_subprocess_exec(
            NODE,
            *self.args,
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            text = line.decode(errors="replace").strip()
            if not text:
                continue
            try:
                self.events.append(json.loads(text))
            except ValueError:
                self.events.append({"event": "unparsed", "line": text})

    def of(self, event: str, action: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if e["event"] == event and (action is None or e.get("action") == action)
        ]

    def failures(self) -> list[Event]:
        return [e for e in self.events if e["event"] in FAILURES]

    def transcript(self) -> str:
        lines = [json.dumps(e) for e in self.events]
        if self.stderr:
            lines.append("stderr: " + self.stderr.decode(errors="replace"))
        return "\n".join(lines)

    async def wait_for(self, check: Callable[[Event], bool], timeout: float = 30.0) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if check(event):
                    return event
            exited = self.process is not None and self.process.returncode is not None
            if exited or time.monotonic() > deadline:
                raise AssertionError(
                    f"charger event not seen (exited: {exited}); transcript:\n{self.transcript()}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 10.0) -> int:
        """Close its stdin (a clean shutdown) and return its exit code."""
        assert self.process is not None and self.process.stdin is not None
        if self.process.returncode is None:
            self.process.stdin.close()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        finally:
            await self.kill()
        return code

    async def kill(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader, 5)
        if self.process.stderr is not None and not self.stderr:
            self.stderr = await self.process.stderr.read()


@contextlib.asynccontextmanager
async def running(node: NodeCharger) -> AsyncIterator[NodeCharger]:
    """The charger, started and booted; it must end the test cleanly, having seen no failure.
    On any failure its whole transcript is shown (pytest's captured stdout)."""
    await node.start()
    try:
        await node.wait_for(lambda e: e["event"] == "ready")
        yield node
        code = await node.stop()
        assert node.failures() == [], node.transcript()
        assert code == 0, node.transcript()
        assert [(e["code"], e["failures"]) for e in node.of("exit")] == [(0, 0)]
    except BaseException:
        await node.kill()
        print(f"strict_charger transcript:\n{node.transcript()}")
        raise
    finally:
        await node.kill()


async def open_session(
    client: httpx.AsyncClient, node: NodeCharger, port_uuid: str, connector_id: int, expires: str
) -> tuple[dict[str, Any], Event]:
    """POST a start; returns the Open transaction and the charger's transactionStarted event."""
    created = await client.post(
        "/transactions",
        json={"port_uuid": port_uuid, "expires": expires, "invoice_id": f"inv-{connector_id}"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    opened = await poll_queue(client, body["queue_uuid"], timeout=30)
    assert opened.get("state") == "Open", f"{opened}\n{node.transcript()}"
    assert opened["transaction_uuid"] == body["transaction_uuid"]
    assert opened["port_uuid"] == port_uuid
    assert opened["invoice_id"] == f"inv-{connector_id}"

    started = await node.wait_for(
        lambda e: e["event"] == "transactionStarted" and e["connectorId"] == connector_id
    )
    assert started["status"] == "Accepted"
    dialect = node.dialect
    remote_starts = [
        e
        for e in node.of("call", dialect.start_request)
        if dialect.token_of(e["params"]) == started["idTag"]
    ]
    assert len(remote_starts) == 1, node.transcript()
    if dialect.v201:
        # The station reports the server's remoteStartId back; it names this start alone.
        assert isinstance(started["remoteStartId"], int), started
    assert remote_starts[0]["params"] == dialect.start_params(connector_id, started)
    # The idTag the server issued is the one it authorises while the transaction is live.
    authorized = [
        e
        for e in node.of("result", "Authorize")
        if dialect.token_of(e["params"]) == started["idTag"]
    ]
    assert [e["result"] for e in authorized] == [dialect.token_info("Accepted")]

    # Meter values of the transaction (1.6 MeterValues, 2.0.1 TransactionEvent Updated) are
    # reflected in energy_wh while the session is open.
    metered = await node.wait_for(
        lambda e: e["event"] == "metered" and e["transactionId"] == started["transactionId"]
    )
    expected_so_far = metered["meterWh"] - started["meterStart"]
    live = await poll_transaction(
        client, body["transaction_uuid"], lambda tx: tx["energy_wh"] == expected_so_far
    )
    assert live["state"] == "Open"
    return live, started


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))


def remote_stops(node: NodeCharger, transaction_id: int | str) -> list[Event]:
    """The server's stop requests for this transaction (2.0.1: the station's own string id)."""
    return [
        e
        for e in node.of("call", node.dialect.stop_request)
        if e["params"] == {"transactionId": transaction_id}
    ]


def profiles_sent(node: NodeCharger) -> list[Event]:
    """CALLs that carried a charging profile: this charger said it takes none."""
    return [
        e
        for e in node.of("call")
        if e["action"] == "SetChargingProfile" or "chargingProfile" in e["params"]
    ]


@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_sessions_with_an_independent_strict_charger(
    server: Server, dialect: Dialect
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    async with running(NodeCharger(server, charger, dialect)) as node:
        assert node.of("connected")[0]["protocol"] == dialect.subprotocol
        boot = node.of("result", "BootNotification")[0]["result"]
        assert boot["status"] == "Accepted"
        # An idTag the server never issued is refused, in a schema-valid way.
        unknown = node.of("result", "Authorize")[0]
        if dialect.v201:
            # "Unknown" would be as right as "Invalid" for a card the server never issued.
            assert unknown["result"] in (
                dialect.token_info("Invalid"),
                dialect.token_info("Unknown"),
            ), unknown
        else:
            assert unknown["result"] == {"idTagInfo": {"status": "Invalid"}}
        assert len(node.of("result", "DataTransfer")) == 1
        if dialect.v201:
            assert node.of("result", "DataTransfer")[0]["result"] == {"status": "UnknownVendorId"}
            assert [e["result"] for e in node.of("result", "NotifyReport")] == [{}]
            assert [e["result"] for e in node.of("result", "MeterValues")] == [{}]

        # After boot the server asks whether the charger takes charging profiles; it answers
        # no, and the sessions below start only once the server has heard that.
        await node.wait_for(lambda e: e["event"] == "reply" and e["action"] == dialect.probe)
        (probe,) = node.of("reply", dialect.probe)
        if dialect.v201:
            assert probe["result"]["getVariableResult"][0] == {
                "attributeStatus": "Accepted",
                "attributeValue": "false",
                "component": {"name": "SmartChargingCtrlr"},
                "variable": {"name": "Enabled"},
            }, probe

        async with operator.client() as client:
            # Session 1, connector 1: extended, then closed through the API.
            tx1, started1 = await open_session(client, node, charger.port_uuids[0], 1, iso(600))
            uuid1 = tx1["transaction_uuid"]
            new_expiry = iso(900)
            extended = await client.patch(f"/transactions/{uuid1}", json={"expires": new_expiry})
            assert extended.status_code == 204, extended.text
            assert extended.content == b""
            assert (await client.get(f"/transactions/{uuid1}")).json()["expires"] == new_expiry[:19]
            assert remote_stops(node, started1["transactionId"]) == []

            patched = await client.patch(f"/transactions/{uuid1}", json={"state": "closed"})
            assert patched.status_code == 202, patched.text
            stop = patched.json()
            assert stop["href"] == f"/queue/{stop['id']}"
            done = await poll_queue(client, stop["id"], timeout=30)
            assert done.get("state") == "Closed", f"{done}\n{node.transcript()}"
            assert done["transaction_uuid"] == uuid1
            stopped1 = await node.wait_for(
                lambda e: (
                    e["event"] == "transactionStopped"
                    and e["transactionId"] == started1["transactionId"]
                )
            )
            assert stopped1["reason"] == "Remote"
            closed1 = await poll_transaction(client, uuid1, lambda tx: tx["state"] == "Closed")
            assert closed1["ended"] is not None
            assert closed1["energy_wh"] == stopped1["meterStop"] - stopped1["meterStart"]
            assert len(remote_stops(node, started1["transactionId"])) == 1

            # Session 2, connector 2: ended by its expiry (10 s ahead, time enough to open on
            # a loaded machine), which the server enforces on its own.
            expires = iso(10)
            tx2, started2 = await open_session(client, node, charger.port_uuids[1], 2, expires)
            uuid2 = tx2["transaction_uuid"]
            stopped2 = await node.wait_for(
                lambda e: (
                    e["event"] == "transactionStopped"
                    and e["transactionId"] == started2["transactionId"]
                ),
                timeout=30,
            )
            # The stop goes out at the expiry: not before it, and promptly after it.
            (stop_call,) = remote_stops(node, started2["transactionId"])
            late = at(stop_call) - datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S%z")
            assert timedelta(0) <= late < timedelta(seconds=10), late
            assert stopped2["reason"] == "Remote"
            closed2 = await poll_transaction(client, uuid2, lambda tx: tx["state"] == "Closed")
            assert closed2["ended"] is not None
            assert closed2["expires"] == expires[:19]
            assert closed2["energy_wh"] == stopped2["meterStop"] - stopped2["meterStart"]
            assert len(remote_stops(node, started2["transactionId"])) == 1

            if dialect.v201:
                # TransactionEvent is answered with idTokenInfo exactly when it carried an
                # idToken (only Started does): Started, Updated, Ended per session.
                for started in (started1, started2):
                    events = [
                        (e["params"]["eventType"], e["params"]["seqNo"], e["result"])
                        for e in node.of("result", "TransactionEvent")
                        if e["params"]["transactionInfo"]["transactionId"]
                        == started["transactionId"]
                    ]
                    assert events == [
                        ("Started", 0, {"idTokenInfo": {"status": "Accepted"}}),
                        ("Updated", 1, {}),
                        ("Ended", 2, {}),
                    ], node.transcript()
                assert started1["remoteStartId"] != started2["remoteStartId"]
            else:
                # StopTransaction is answered with idTagInfo exactly when it carried an idTag
                # (the charger sends one on odd connectors only).
                stop_results = [e["result"] for e in node.of("result", "StopTransaction")]
                assert stop_results == [{"idTagInfo": {"status": "Accepted"}}, {}]
            statuses = node.of("result", "StatusNotification")
            assert statuses and all(e["result"] == {} for e in statuses), node.transcript()

            # One start and one stop request per session, nothing else from the server.
            assert len(node.of("call", dialect.start_request)) == 2
            assert len(node.of("call", dialect.stop_request)) == 2
            assert len(node.of("call", dialect.probe)) == 1
            assert [e for e in node.of("call") if e.get("unexpected")] == []
            # A charger that takes no charging profiles is never sent one.
            assert profiles_sent(node) == [], node.transcript()

            async def both_available() -> bool:
                ports = {p["port_uuid"]: p for p in (await client.get("/ports")).json()}
                return {ports[p]["status"] for p in charger.port_uuids} == {"Available"}

            await eventually(both_available, timeout=30)


# -- quirks of real stations, met by a charger whose every message is schema-checked ----------

DIALECTS = pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
# What the server asks a charger when a stop did not take: does the transaction still run?
RECONCILE = {"1.6": "TriggerMessage", "2.0.1": "GetTransactionStatus"}


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Server]:
    with Server(workdir=tmp_path, extra_env=FAST_STOPS).running() as instance:
        yield instance


async def close(client: httpx.AsyncClient, node: NodeCharger, transaction_uuid: str) -> None:
    patched = await client.patch(f"/transactions/{transaction_uuid}", json={"state": "closed"})
    assert patched.status_code == 202, patched.text
    done = await poll_queue(client, patched.json()["id"], timeout=60)
    assert done.get("state") == "Closed", f"{done}\n{node.transcript()}"


def reconcile_params(node: NodeCharger, started: Event) -> Payload:
    if node.dialect.v201:
        return {"transactionId": started["transactionId"]}
    return {"requestedMessage": "StatusNotification", "connectorId": started["connectorId"]}


@DIALECTS
async def test_a_refused_stop_is_retried_until_it_takes(fast: Server, dialect: Dialect) -> None:
    operator = await fast.operator()
    charger = await operator.add_charger()
    async with (
        running(NodeCharger(fast, charger, dialect, "--refuse-stops=2")) as node,
        operator.client() as client,
    ):
        tx, started = await open_session(client, node, charger.port, 1, iso(600))
        await close(client, node, tx["transaction_uuid"])
        stopped = await node.wait_for(lambda e: e["event"] == "transactionStopped")
        closed = await client.get(f"/transactions/{tx['transaction_uuid']}")
        assert closed.json()["energy_wh"] == stopped["meterStop"] - stopped["meterStart"]
        assert len(remote_stops(node, started["transactionId"])) == 3
        # Before each new attempt the server asked whether the transaction still ran.
        asked = node.of("call", RECONCILE[dialect.version])
        assert [e["params"] for e in asked] == [reconcile_params(node, started)] * 2


@DIALECTS
async def test_a_stop_the_charger_reports_only_when_asked(fast: Server, dialect: Dialect) -> None:
    operator = await fast.operator()
    charger = await operator.add_charger()
    async with (
        running(NodeCharger(fast, charger, dialect, "--stop-only-when-asked")) as node,
        operator.client() as client,
    ):
        tx, started = await open_session(client, node, charger.port, 1, iso(600))
        await close(client, node, tx["transaction_uuid"])
        await node.wait_for(lambda e: e["event"] == "transactionForgotten")
        assert node.of("transactionStopped") == []
        asked = node.of("call", RECONCILE[dialect.version])
        assert asked and asked[0]["params"] == reconcile_params(node, started)
        assert len(remote_stops(node, started["transactionId"])) == 1


@pytest.mark.parametrize(
    "options",
    [
        ["--start-answer-names-transaction"],
        ["--start-answer-names-transaction", "--started-before-answer"],
        ["--started-before-answer"],
    ],
    ids=["answer-names-it", "answer-names-it-event-first", "event-first"],
)
async def test_a_start_is_matched_whichever_comes_first(server: Server, options: list[str]) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    async with (
        running(NodeCharger(server, charger, V201, *options)) as node,
        operator.client() as client,
    ):
        tx, started = await open_session(client, node, charger.port, 1, iso(600))
        assert [t["transaction_uuid"] for t in await transactions(client, charger.port)] == [
            tx["transaction_uuid"]
        ]
        await close(client, node, tx["transaction_uuid"])
        stopped = await node.wait_for(lambda e: e["event"] == "transactionStopped")
        assert stopped["transactionId"] == started["transactionId"]


@DIALECTS
async def test_text_and_numbers_no_store_holds_do_not_break_a_session(
    server: Server, dialect: Dialect
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    async with (
        running(NodeCharger(server, charger, dialect, "--bad-strings", "--bad-meter")) as node,
        operator.client() as client,
    ):
        tx, started = await open_session(client, node, charger.port, 1, iso(600))
        await close(client, node, tx["transaction_uuid"])
        stopped = await node.wait_for(lambda e: e["event"] == "transactionStopped")
        closed = (await client.get(f"/transactions/{tx['transaction_uuid']}")).json()
    # A MeterValues of readings no meter makes is refused; in a transaction's messages they are
    # skipped: 1.6 closes on its StopTransaction's meterStop, 2.0.1 (whose Ended reading is one
    # of them) on the last good reading.
    assert [e["error"]["code"] for e in node.of("refused")] == ["PropertyConstraintViolation"]
    if dialect.v201:
        assert closed["energy_wh"] == tx["energy_wh"], closed
        why = SkippedReading.MULTIPLIER
    else:
        assert closed["energy_wh"] == stopped["meterStop"] - started["meterStart"], closed
        why = SkippedReading.NON_FINITE
    assert await metric(server, f'chargegate_meter_readings_skipped_total{{why="{why}"}}') >= 1
    [(vendor,)] = await query(
        server,
        "SELECT vendor FROM chargers WHERE charge_point_id = :id",
        id=charger.charge_point_id,
    )
    assert vendor == f"ocpp-rpc{CLEANED}"


@pytest.mark.parametrize("answer", ["Accepted", "Rejected"])
@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_clear_cache_with_an_independent_strict_charger(
    server: Server, dialect: Dialect, answer: str
) -> None:
    """The CALL validates against ocpp-rpc's own schemas, and the queue item follows the
    station's answer."""
    operator = await server.operator()
    charger = await operator.add_charger()
    options = [f"--clear-cache={answer}"]
    async with running(NodeCharger(server, charger, dialect, *options)) as node:
        async with operator.client() as client:
            sent = await client.post(
                f"/chargers/{charger.charge_point_id}/commands", json={"command": "clear_cache"}
            )
            assert sent.status_code == 202, sent.text
            done = await poll_queue(client, sent.json()["id"])
        assert [e["params"] for e in node.of("call", "ClearCache")] == [{}]
        assert [e["result"] for e in node.of("reply", "ClearCache")] == [{"status": answer}]
    if answer == "Accepted":
        assert done["status"] == "SUCCESS" and done["result"] == {"status": "Accepted"}, done
    else:
        assert done["status"] == "FAILURE", done
        assert done["reason"] == "The charger rejected ClearCache (Rejected)", done
