"""Interoperability: whole sessions driven against a charger we did not write.

The charger is tests/js/strict_charger.mjs, built on the npm package ocpp-rpc in strict mode:
every CALL our server sends and every CALLRESULT it answers with is validated against
ocpp-rpc's own OCPP 1.6 schemas. Needs node and `make js-deps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import Charger, Server, eventually, iso, poll_queue, poll_transaction

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
FAILURES = {"strictValidationFailure", "badMessage", "callError", "error"}

Event = dict[str, Any]


class NodeCharger:
    """strict_charger.mjs as a subprocess; its JSON-lines stdout collected as events."""

    def __init__(self, server: Server, charger: Charger) -> None:
        self.args = [
            str(SCRIPT),
            server.ws_url,
            charger.charge_point_id,
            str(len(charger.port_uuids)),
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

    async def wait_for(self, check: Callable[[Event], bool], timeout: float = 10.0) -> Event:
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
    opened = await poll_queue(client, body["queue_uuid"], timeout=10)
    assert opened.get("state") == "Open", f"{opened}\n{node.transcript()}"
    assert opened["transaction_uuid"] == body["transaction_uuid"]
    assert opened["port_uuid"] == port_uuid
    assert opened["invoice_id"] == f"inv-{connector_id}"

    started = await node.wait_for(
        lambda e: e["event"] == "transactionStarted" and e["connectorId"] == connector_id
    )
    assert started["status"] == "Accepted"
    remote_starts = [
        e
        for e in node.of("call", "RemoteStartTransaction")
        if e["params"]["idTag"] == started["idTag"]
    ]
    assert len(remote_starts) == 1, node.transcript()
    assert remote_starts[0]["params"] == {"connectorId": connector_id, "idTag": started["idTag"]}
    # The idTag the server issued is the one it authorises while the transaction is live.
    authorized = [
        e for e in node.of("result", "Authorize") if e["params"]["idTag"] == started["idTag"]
    ]
    assert [e["result"] for e in authorized] == [{"idTagInfo": {"status": "Accepted"}}]

    # MeterValues with the transactionId are reflected in energy_wh while the session is open.
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


def remote_stops(node: NodeCharger, transaction_id: int) -> list[Event]:
    return [
        e
        for e in node.of("call", "RemoteStopTransaction")
        if e["params"] == {"transactionId": transaction_id}
    ]


async def test_sessions_with_an_independent_strict_charger(server: Server) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    node = NodeCharger(server, charger)
    await node.start()
    try:
        await node.wait_for(lambda e: e["event"] == "ready")
        assert node.of("connected")[0]["protocol"] == "ocpp1.6"
        boot = node.of("result", "BootNotification")[0]["result"]
        assert boot["status"] == "Accepted"
        # An idTag the server never issued is refused, in a schema-valid way.
        unknown = node.of("result", "Authorize")[0]
        assert unknown["result"] == {"idTagInfo": {"status": "Invalid"}}
        assert len(node.of("result", "DataTransfer")) == 1

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
            done = await poll_queue(client, stop["id"], timeout=10)
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

            # Session 2, connector 2: ended by its expiry (3-4 s ahead), which the server
            # enforces on its own.
            expires = iso(4)
            tx2, started2 = await open_session(client, node, charger.port_uuids[1], 2, expires)
            uuid2 = tx2["transaction_uuid"]
            stopped2 = await node.wait_for(
                lambda e: (
                    e["event"] == "transactionStopped"
                    and e["transactionId"] == started2["transactionId"]
                ),
                timeout=10,
            )
            # The stop goes out at the expiry: not before it, and promptly after it.
            (stop_call,) = remote_stops(node, started2["transactionId"])
            late = at(stop_call) - datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S%z")
            assert timedelta(0) <= late < timedelta(seconds=1.5), late
            assert stopped2["reason"] == "Remote"
            closed2 = await poll_transaction(client, uuid2, lambda tx: tx["state"] == "Closed")
            assert closed2["ended"] is not None
            assert closed2["expires"] == expires[:19]
            assert closed2["energy_wh"] == stopped2["meterStop"] - stopped2["meterStart"]
            assert len(remote_stops(node, started2["transactionId"])) == 1

            # StopTransaction is answered with idTagInfo exactly when it carried an idTag
            # (the charger sends one on odd connectors only).
            stop_results = [e["result"] for e in node.of("result", "StopTransaction")]
            assert stop_results == [{"idTagInfo": {"status": "Accepted"}}, {}]

            # One RemoteStart and one RemoteStop per session, nothing else from the server.
            assert len(node.of("call", "RemoteStartTransaction")) == 2
            assert len(node.of("call", "RemoteStopTransaction")) == 2
            assert [e for e in node.of("call") if e.get("unexpected")] == []

            async def both_available() -> bool:
                ports = {p["port_uuid"]: p for p in (await client.get("/ports")).json()}
                return {ports[p]["status"] for p in charger.port_uuids} == {"Available"}

            await eventually(both_available, timeout=5)

        code = await node.stop()
        assert node.failures() == [], node.transcript()
        assert code == 0, node.transcript()
        assert [(e["code"], e["failures"]) for e in node.of("exit")] == [(0, 0)]
    except BaseException:
        await node.kill()
        # Shown by pytest as captured stdout: everything the charger sent, received and saw.
        print(f"strict_charger transcript:\n{node.transcript()}")
        raise
    finally:
        await node.kill()
