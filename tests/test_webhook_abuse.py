"""Webhook receivers that misbehave, and webhook URLs that point where they must not: each
hurts only its own deliveries, and internal addresses are never reached."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from chargegate import provisioning
from chargegate.domain.times import utcnow
from chargegate.domain.webhooks import MAX_ATTEMPTS
from chargegate.store import operators as operator_store
from chargegate.store import webhooks as webhook_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade_sync
from chargegate.store.models import WebhookDelivery
from support import (
    Server,
    Simulators,
    api_time,
    eventually,
    free_port,
    metric,
    online,
    open_session,
)
from test_webhooks import (
    Receiver,
    hooked_server,
    read_request,
    session_events,
    transaction_events,
    until,
)

# Webhooks do not depend on the charger's OCPP version: one is enough.
one_ocpp_version = pytest.mark.parametrize("simulators", ["1.6"], indirect=True)

NO_PRIVATE = {"CHARGEGATE_WEBHOOK_ALLOW_PRIVATE": "false"}
OPENED = ["transaction.opened", "queue_item.resolved:start"]


@dataclass
class Exchange:
    """One POST a receiver got: its event, when it arrived, when the sender hung up."""

    event: dict[str, Any]
    # Wall clock, as Receiver.arrived.
    arrived: float = field(default_factory=time.time)
    hung_up: float | None = None
    # Bytes of answer written before the sender hung up.
    answered: int = 0


Answer = Callable[[asyncio.StreamWriter, Exchange], Awaitable[None]]


@dataclass
class Misbehaving:
    """A real HTTP receiver on 127.0.0.1 that answers each POST with `answer`, and notes when
    the sender hangs up."""

    answer: Answer
    port: int = field(default_factory=free_port)
    exchanges: list[Exchange] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self) -> list[dict[str, Any]]:
        return [exchange.event for exchange in self.exchanges]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _headers, body = await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        exchange = Exchange(json.loads(body))
        self.exchanges.append(exchange)
        answering = asyncio.create_task(self.answer(writer, exchange))
        # The sender hanging up (end of stream) ends the exchange, whatever the answer does.
        with contextlib.suppress(ConnectionError):
            await reader.read()
        exchange.hung_up = time.time()
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await answering
        writer.close()


async def trickle(writer: asyncio.StreamWriter, exchange: Exchange) -> None:
    """An answer's status line and then a header, one byte every half second, for a minute:
    never silent long enough for a read timeout."""
    writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(120):
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.write(b"x")
        exchange.answered += 1


async def endless(writer: asyncio.StreamWriter, exchange: Exchange) -> None:
    """200, then a chunked body as fast as the sender takes it, without end."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    while True:
        writer.write(chunk)
        await writer.drain()
        exchange.answered += len(chunk)


async def respond(writer: asyncio.StreamWriter, status: int) -> None:
    writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def listening(*receivers: Misbehaving | Receiver) -> AsyncIterator[None]:
    for receiver in receivers:
        await receiver.start()
    try:
        yield
    finally:
        for receiver in receivers:
            await receiver.stop()


@contextlib.asynccontextmanager
async def database(server: Server) -> AsyncIterator[Any]:
    """A transaction on the server's database, for what no command does (rows written as an
    older version, without today's checks, would have written them)."""
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


async def stored_webhook(server: Server, operator: str, url: str) -> int:
    """A webhook added before its URL was checked (or while the allow setting was on)."""
    async with database(server) as session:
        owner = await operator_store.get_or_create_operator(session, operator, utcnow())
        webhook = await webhook_store.add_webhook(session, owner.id, url, "whsec_x", utcnow())
        return webhook.id


async def deliveries(server: Server, webhook_id: int) -> list[WebhookDelivery]:
    async with database(server) as session:
        query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        return list((await session.scalars(query.order_by(WebhookDelivery.id))).all())


@one_ocpp_version
async def test_a_trickling_receiver_is_cut_at_the_deadline_and_delays_no_other_operator(
    tmp_path: Path, simulators: Simulators
) -> None:
    deadline = 8.0
    slow, fast = Misbehaving(trickle), Receiver()
    server = await hooked_server(tmp_path, {"CHARGEGATE_WEBHOOK_TIMEOUT_S": str(deadline)})
    a, b = await server.operator(), await server.operator()
    await provisioning.add_webhook(server.settings, a.name, slow.url)
    await provisioning.add_webhook(server.settings, b.name, fast.url)
    async with listening(slow, fast):
        server.start()
        try:
            await online(simulators, server, await a.add_charger())
            await until(lambda: slow.exchanges)
            stuck = slow.exchanges[0]
            charger = await b.add_charger()
            await online(simulators, server, charger)
            async with b.client() as client:
                tx = (await open_session(client, charger.port))["transaction_uuid"]
            await until(lambda: transaction_events(fast, tx) == OPENED)
            # B's events went while A's first POST was still held open by its receiver, each
            # within seconds of being recorded (`created` is to the second), not after A's.
            assert stuck.hung_up is None or fast.arrived[0] < stuck.hung_up
            for event, arrived in zip(fast.events(), fast.arrived, strict=True):
                assert arrived - api_time(event["created"]).timestamp() < 1 + deadline / 2
            await until(lambda: stuck.hung_up is not None, timeout=deadline + 10)
            assert stuck.hung_up is not None
            # Cut at the deadline, though bytes kept coming for a minute.
            assert deadline - 1.5 < stuck.hung_up - stuck.arrived < deadline + 3
        finally:
            server.stop()


@one_ocpp_version
async def test_an_endless_answer_is_cut_at_the_size_cap(
    tmp_path: Path, simulators: Simulators
) -> None:
    receiver = Misbehaving(endless)
    # A deadline far away: what ends each POST must be the cap.
    server = await hooked_server(tmp_path, {"CHARGEGATE_WEBHOOK_TIMEOUT_S": "120"})
    operator = await server.operator()
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    async with listening(receiver):
        server.start()
        try:
            charger = await operator.add_charger()
            await online(simulators, server, charger)
            async with operator.client() as client:
                tx = (await open_session(client, charger.port))["transaction_uuid"]
            # The second event waits for the first to be settled: its 200 counted.
            await until(lambda: session_events(receiver.events(), tx) == OPENED)
            await until(lambda: all(e.hung_up is not None for e in receiver.exchanges))
            for exchange in receiver.exchanges:
                assert exchange.hung_up is not None
                assert exchange.hung_up - exchange.arrived < 10
                # What socket buffers hold, not what a minute at loopback speed would be.
                assert exchange.answered < 32 * 2**20
            ids = [e.event["id"] for e in receiver.exchanges]
            assert len(ids) == len(set(ids)), "a delivered event was sent again"
        finally:
            server.stop()


@one_ocpp_version
async def test_unsendable_urls_fail_their_own_deliveries_only(
    tmp_path: Path, simulators: Simulators
) -> None:
    mine, theirs = Receiver(), Receiver()
    server = await hooked_server(tmp_path)
    a, b = await server.operator(), await server.operator()
    bad = {
        "control or space character": await stored_webhook(
            server, a.name, "http://example.com/ho\nok"
        ),
        "not a valid internationalized name": await stored_webhook(
            server, a.name, "http://xn--a.example/hook"
        ),
    }
    await provisioning.add_webhook(server.settings, a.name, mine.url)
    await provisioning.add_webhook(server.settings, b.name, theirs.url)
    async with listening(mine, theirs):
        server.start()
        try:
            sessions = []
            for operator in (a, b):
                charger = await operator.add_charger()
                await online(simulators, server, charger)
                async with operator.client() as client:
                    sessions.append((await open_session(client, charger.port))["transaction_uuid"])
            for receiver, tx in zip((mine, theirs), sessions, strict=True):
                await until(lambda r=receiver, t=tx: transaction_events(r, t) == OPENED)
                ids = [e["id"] for e in receiver.events()]
                assert len(ids) == len(set(ids)), "a delivered event was sent again"

            async def retried(webhook_id: int, why: str) -> bool:
                rows = await deliveries(server, webhook_id)
                first = rows[0] if rows else None
                return (
                    first is not None
                    and first.attempts >= 2
                    and first.status == "pending"
                    and why in (first.last_error or "")
                )

            for why, webhook_id in bad.items():
                await eventually(lambda w=webhook_id, y=why: retried(w, y))

            async def given_up(webhook_id: int) -> bool:
                # Straight to the last attempt rather than an hour of backoff.
                async with database(server) as session:
                    await session.execute(
                        update(WebhookDelivery)
                        .where(
                            WebhookDelivery.webhook_id == webhook_id,
                            WebhookDelivery.status == "pending",
                        )
                        .values(attempts=MAX_ATTEMPTS - 1, next_attempt_at=utcnow())
                    )
                rows = await deliveries(server, webhook_id)
                return all(row.status == "failed" for row in rows)

            for why, webhook_id in bad.items():
                await eventually(lambda w=webhook_id: given_up(w))
                for row in await deliveries(server, webhook_id):
                    assert row.attempts == MAX_ATTEMPTS and why in (row.last_error or "")
        finally:
            server.stop()


@one_ocpp_version
async def test_a_removed_webhook_is_never_posted_again(
    tmp_path: Path, simulators: Simulators
) -> None:
    """Removed while a retry is on the wire, its late 503 revives nothing; a delivery recorded
    by a transaction that read the webhook just before its removal is never sent."""
    release = asyncio.Event()

    async def refuse_first_hold_retries(writer: asyncio.StreamWriter, exchange: Exchange) -> None:
        if [e.event["id"] for e in receiver.exchanges].count(exchange.event["id"]) > 1:
            await release.wait()
        await respond(writer, 503)

    receiver = Misbehaving(refuse_first_hold_retries)
    server = await hooked_server(tmp_path)
    operator = await server.operator()
    hook = await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    discarded = 'chargegate_webhook_attempts_total{outcome="discarded"}'

    def held() -> list[Exchange]:
        return [e for e in receiver.exchanges if e.hung_up is None and seen_before(e)]

    def seen_before(exchange: Exchange) -> bool:
        return any(
            e.event["id"] == exchange.event["id"] and e.arrived < exchange.arrived
            for e in receiver.exchanges
        )

    async with listening(receiver):
        server.start()
        try:
            await online(simulators, server, await operator.add_charger())
            await until(held)
            assert await provisioning.remove_webhook(server.settings, hook["id"])
            retrying = {e.event["id"]: e for e in held()}
            release.set()
            released = time.time()

            def resent() -> list[Exchange]:
                return [
                    e
                    for e in receiver.exchanges
                    if e.event["id"] in retrying and e.arrived >= released
                ]

            async def settled_or_resent() -> bool:
                return bool(resent()) or await metric(server, discarded) >= len(retrying)

            await eventually(settled_or_resent)
            assert resent() == []
            assert all(row.status == "failed" for row in await deliveries(server, hook["id"]))

            async with database(server) as session:
                late = WebhookDelivery(
                    webhook_id=hook["id"],
                    event_id=str(uuid.uuid4()),
                    event_type="port.status_changed",
                    ordering_key="late",
                    body=json.dumps({"id": "late", "type": "port.status_changed", "data": {}}),
                    status="pending",
                    created_at=utcnow(),
                    next_attempt_at=utcnow(),
                    attempts=0,
                )
                session.add(late)

            async def dropped_or_sent() -> bool:
                rows = await deliveries(server, hook["id"])
                sent = any(e.event["id"] == "late" for e in receiver.exchanges)
                return sent or rows[-1].status == "failed"

            await eventually(dropped_or_sent)
            assert "late" not in [e.event["id"] for e in receiver.exchanges]
            assert resent() == []
            assert (await deliveries(server, hook["id"]))[-1].last_error == "webhook removed"
        finally:
            server.stop()


INTERNAL = {
    "http://127.0.0.1:8000/hook": "127.0.0.1 is a loopback address",
    # Resolved first: which of its addresses is named depends on the resolver's order.
    "http://localhost:8000/hook": "is a loopback address",
    "http://[::ffff:127.0.0.1]/hook": "is a loopback address",
    "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a cloud metadata address",
    "http://10.1.2.3/hook": "10.1.2.3 is a private address",
    "http://0.0.0.0:8000/hook": "0.0.0.0 is a private address",
}


async def test_internal_targets_are_refused_when_added(tmp_path: Path) -> None:
    server = await hooked_server(tmp_path, NO_PRIVATE)
    operator = await server.operator()
    for url, why in INTERNAL.items():
        with pytest.raises(provisioning.InvalidWebhookUrl) as refused:
            await provisioning.add_webhook(server.settings, operator.name, url)
        assert why in str(refused.value) and "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE" in str(
            refused.value
        )
    # A public address is taken (nothing is sent to it here: the server is not running).
    await provisioning.add_webhook(server.settings, operator.name, "https://1.1.1.1/hook")
    assert [h["url"] for h in await provisioning.list_webhooks(server.settings)] == [
        "https://1.1.1.1/hook"
    ]


def test_the_cli_says_why_it_refuses_an_internal_target(tmp_path: Path) -> None:
    server = Server(workdir=tmp_path, extra_env=NO_PRIVATE)
    upgrade_sync(server.database_url)
    add = ["webhooks", "add", "http://localhost/hook", "--operator", "acme"]
    cli = subprocess.run(
        [sys.executable, "-m", "chargegate", *add],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2, cli.stderr
    assert "localhost (" in cli.stderr and "is a loopback address" in cli.stderr
    assert "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE=true" in cli.stderr


@one_ocpp_version
async def test_internal_targets_are_refused_at_delivery_after_resolution(
    tmp_path: Path, simulators: Simulators
) -> None:
    receiver = Receiver()
    server = await hooked_server(tmp_path, NO_PRIVATE)
    operator = await server.operator()
    port = receiver.port
    refused = {
        await stored_webhook(server, operator.name, f"http://localhost:{port}/hook"): "loopback",
        await stored_webhook(server, operator.name, f"http://127.0.0.1:{port}/hook"): "loopback",
        await stored_webhook(server, operator.name, "http://169.254.169.254/"): "cloud metadata",
        await stored_webhook(server, operator.name, "http://10.255.255.1/hook"): "private",
    }
    async with listening(receiver):
        server.start()
        try:
            await online(simulators, server, await operator.add_charger())

            async def all_refused() -> bool:
                for webhook_id, kind in refused.items():
                    rows = await deliveries(server, webhook_id)
                    if not rows or f"is a {kind} address" not in (rows[0].last_error or ""):
                        return False
                return True

            await eventually(all_refused)
            assert receiver.received == []
        finally:
            server.stop()
