"""Webhooks: signed, durable, retried, in order per transaction, against a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chargegate import provisioning
from chargegate.domain.webhooks import (
    SIGNATURE_HEADER,
    retry_delay,
    signature,
    signature_valid,
)
from chargegate.store.migrate import upgrade, upgrade_sync
from support import (
    Operator,
    Server,
    Simulators,
    free_port,
    online,
    open_session,
    poll_queue,
)

FAST_RETRIES = {"CHARGEGATE_WEBHOOK_RETRY_BASE_S": "0.2"}


async def read_request(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes]:
    """One HTTP/1.1 request with a Content-Length: its headers (lower-case names) and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {
        k.strip().lower(): v.strip()
        for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    return headers, await reader.readexactly(int(headers.get("content-length", "0")))


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every POST it accepts; the first
    `failures` deliveries of `fail_type` events get a 503."""

    failures: int = 0
    fail_type: str = ""
    port: int = field(default_factory=free_port)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    # When each accepted POST arrived (wall clock, comparable with an event's `created`).
    arrived: list[float] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers, body = await read_request(reader)
                failing = json.loads(body)["type"] == self.fail_type and self.failures > 0
                self.failures -= failing
                status = 503 if failing else 200
                if status == 200:
                    self.received.append((headers, body))
                    self.arrived.append(time.time())
                self.answered.append(status)
                reason = "OK" if status == 200 else "Service Unavailable"
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def types(self, key: str | None = None) -> list[str]:
        return [
            e["type"]
            for e in self.events()
            if key is None or e["data"].get("transaction_uuid", key) == key
        ]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = Receiver()
    await instance.start()
    yield instance
    await instance.stop()


async def hooked_server(tmp_path: Path, env: dict[str, str] | None = None) -> Server:
    instance = Server(workdir=tmp_path, extra_env={**FAST_RETRIES, **(env or {})})
    await upgrade(instance.database_url)
    return instance


async def until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def transaction_events(receiver: Receiver, transaction_uuid: str) -> list[str]:
    return session_events(receiver.events(), transaction_uuid)


def session_events(events: Iterable[dict[str, Any]], transaction_uuid: str) -> list[str]:
    """The types of one transaction's events, in order; a queue item's with its kind."""
    out = []
    for event in events:
        data = event["data"]
        uuid = data.get("transaction_uuid") or data.get("transaction", {}).get("transaction_uuid")
        if uuid == transaction_uuid:
            out.append(event["type"] + (f":{data['kind']}" if "kind" in data else ""))
    return out


def test_signature_rules() -> None:
    body = b'{"id":"1"}'
    header = signature("whsec_x", 1_700_000_000, body)
    assert signature_valid("whsec_x", header, body, 1_700_000_100)
    assert not signature_valid("whsec_y", header, body, 1_700_000_100)
    assert not signature_valid("whsec_x", header, body + b" ", 1_700_000_100)
    assert not signature_valid("whsec_x", header, body, 1_700_000_000 + 301)  # replayed late
    assert not signature_valid("whsec_x", "garbage", body, 1_700_000_000)
    base = timedelta(seconds=5)
    assert [retry_delay(n, base).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(40, base) == timedelta(hours=1)


async def test_session_events_signed_and_in_order(
    tmp_path: Path, receiver: Receiver, simulators: Simulators
) -> None:
    server = await hooked_server(tmp_path)
    operator_name = "hooked"
    key = await provisioning.create_api_key(server.settings, operator_name)
    hook = await provisioning.add_webhook(server.settings, operator_name, receiver.url)
    other = await provisioning.create_api_key(server.settings, "other-operator")
    server.start()
    try:
        operator = Operator(server=server, name=operator_name, key=key)
        outsider = Operator(server=server, name="other-operator", key=other)
        charger = await operator.add_charger()
        foreign = await outsider.add_charger()
        sim = await online(simulators, server, charger)
        await online(simulators, server, foreign)
        async with operator.client() as client:
            created = await open_session(client, charger.port)
            tx = created["transaction_uuid"]
            stop = await client.patch(f"/transactions/{tx}", json={"state": "closed"})
            assert stop.status_code == 202
            await poll_queue(client, stop.json()["id"])
        await until(lambda: "transaction.closed" in receiver.types())
        await until(lambda: len(transaction_events(receiver, tx)) >= 4)
        assert transaction_events(receiver, tx) == [
            "transaction.opened",
            "queue_item.resolved:start",
            "transaction.closed",
            "queue_item.resolved:stop",
        ]
        assert sim.stop_requests == 1
        for headers, body in receiver.received:
            assert signature_valid(
                hook["secret"], headers[SIGNATURE_HEADER.lower()], body, int(time.time())
            )
            assert headers["x-chargegate-event"] == json.loads(body)["type"]
        closed = next(e for e in receiver.events() if e["type"] == "transaction.closed")
        assert closed["data"]["state"] == "Closed" and closed["staging"] is False
        statuses = [e for e in receiver.events() if e["type"] == "port.status_changed"]
        assert statuses and {e["data"]["port_uuid"] for e in statuses} == {charger.port}
        # Another operator's chargers never reach this operator's webhook.
        assert foreign.port not in json.dumps(receiver.events())
    finally:
        server.stop()


async def test_retries_with_backoff_and_keeps_order(
    tmp_path: Path, receiver: Receiver, simulators: Simulators
) -> None:
    receiver.failures, receiver.fail_type = 3, "transaction.opened"
    server = await hooked_server(tmp_path)
    operator = await server.operator()
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    server.start()
    try:
        charger = await operator.add_charger()
        await online(simulators, server, charger)
        async with operator.client() as client:
            created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        await until(lambda: len(transaction_events(receiver, tx)) >= 2)
        assert receiver.answered.count(503) == 3
        # The first event was retried until delivered; the later one never overtook it.
        assert transaction_events(receiver, tx)[:2] == [
            "transaction.opened",
            "queue_item.resolved:start",
        ]
    finally:
        server.stop()


async def test_durable_across_receiver_outage_and_restart(
    tmp_path: Path, simulators: Simulators
) -> None:
    """Events recorded while the receiver is down, and the server killed meanwhile, arrive
    once the receiver is back: the outbox is in the database, not in memory."""
    receiver = Receiver()  # not listening yet: connections are refused
    server = await hooked_server(tmp_path)
    operator = await server.operator()
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    server.start()
    try:
        charger = await operator.add_charger()
        await online(simulators, server, charger)
        async with operator.client() as client:
            created = await open_session(client, charger.port)
        server.kill()
        await receiver.start()
        server.start()
        tx = created["transaction_uuid"]
        await until(lambda: len(transaction_events(receiver, tx)) >= 2, timeout=30)
        assert transaction_events(receiver, tx)[:2] == [
            "transaction.opened",
            "queue_item.resolved:start",
        ]
    finally:
        server.stop()
        await receiver.stop()


def test_cli_add_list_remove(tmp_path: Path) -> None:
    server = Server(workdir=tmp_path)
    upgrade_sync(server.database_url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chargegate", "webhooks", *args],
            env=server.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = cli("add", "https://example.invalid/hook", "--operator", "acme")
    assert added.returncode == 0, added.stderr
    hook = json.loads(added.stdout)
    assert hook["secret"].startswith("whsec_") and hook["url"] == "https://example.invalid/hook"
    listed = json.loads(cli("list").stdout)
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    bad = cli("add", "ftp://example.invalid", "--operator", "acme")
    assert bad.returncode == 2 and "http(s)" in bad.stderr
    assert cli("remove", str(hook["id"])).returncode == 0
    assert json.loads(cli("list").stdout) == []
    assert cli("remove", str(hook["id"])).returncode == 1
