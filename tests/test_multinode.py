"""Two `chargegate serve` nodes on one PostgreSQL database (and one Redis broker, where said):
commands reach chargers whichever node holds them, and never twice."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from websockets.asyncio.client import connect

from chargegate.domain.times import utcnow
from chargegate.sim.charger import SimulatedCharger
from chargegate.store import chargers as charger_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade, upgrade_sync
from support import (
    Charger,
    Operator,
    Server,
    eventually,
    free_port,
    iso,
    migrated_database,
    poll_queue,
    poll_transaction,
    start_session,
)

REDIS_URL = "redis://127.0.0.1:6379/0"

# Nodes share one database, which SQLite files cannot be across processes.
pytestmark = pytest.mark.postgres_only


def redis_answers(port: int = 6379) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_answers(), reason="needs Redis on 127.0.0.1:6379 for the broker"
)


class Cluster:
    def __init__(
        self,
        tmp_path: Path,
        broker_url: str | None,
        poll_s: float = 1.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        database_url = migrated_database(tmp_path)
        env = {"CHARGEGATE_POLL_INTERVAL_S": str(poll_s), **(extra_env or {})}
        if broker_url:
            env["CHARGEGATE_BROKER_URL"] = broker_url
        self.a, self.b = (
            Server(
                workdir=tmp_path,
                database_url=database_url,
                extra_args=["--node-id", node],
                extra_env=env,
            )
            for node in ("node-a", "node-b")
        )
        self.chargers: list[SimulatedCharger] = []

    async def start(self) -> None:
        await upgrade(self.a.database_url)
        self.a.start()
        self.b.start()

    @contextmanager
    def running(self) -> Iterator[Cluster]:
        """Migrated and started, for a fixture outside the event loop; stopped afterwards (its
        tests power off their own chargers)."""
        upgrade_sync(self.a.database_url)
        self.a.start()
        self.b.start()
        try:
            yield self
        finally:
            self.a.stop()
            self.b.stop()

    async def stop(self) -> None:
        for sim in self.chargers:
            await sim.power_off()
        self.a.stop()
        self.b.stop()

    async def charger_on(self, server: Server, charger: Charger) -> SimulatedCharger:
        sim = SimulatedCharger(
            url=server.ws_url,
            charge_point_id=charger.charge_point_id,
            connectors=len(charger.port_uuids),
        )
        self.chargers.append(sim)
        sim.start()
        await sim.wait_until(lambda: sim.online)
        return sim


async def cluster(
    tmp_path: Path,
    broker_url: str | None,
    poll_s: float = 1.0,
    extra_env: dict[str, str] | None = None,
) -> Cluster:
    nodes = Cluster(tmp_path, broker_url, poll_s, extra_env)
    await nodes.start()
    return nodes


def client_for(server: Server, operator: Operator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.api, headers=operator.headers, timeout=10)


@needs_redis
async def test_start_posted_to_the_other_node(tmp_path: Path) -> None:
    # A long poll interval: only the broker can make this fast.
    nodes = await cluster(tmp_path, REDIS_URL, poll_s=30)
    try:
        operator = await nodes.a.operator()
        charger = await operator.add_charger()
        sim = await nodes.charger_on(nodes.a, charger)
        async with client_for(nodes.a, operator) as on_a, client_for(nodes.b, operator) as on_b:
            began = time.monotonic()
            created = await start_session(on_b, charger.port, iso(600))
            await sim.wait_until(lambda: sim.start_requests == 1, timeout=30)
            latency = time.monotonic() - began
            print(f"cross-node start with the broker: {latency * 1000:.0f} ms")
            assert latency < 10, latency
            for client in (on_a, on_b):
                opened = await poll_queue(client, created["queue_uuid"])
                assert opened["state"] == "Open"
    finally:
        await nodes.stop()


@needs_redis
async def test_node_killed_charger_moves_exactly_one_stop(tmp_path: Path) -> None:
    nodes = await cluster(tmp_path, REDIS_URL)
    try:
        operator = await nodes.a.operator()
        charger = await operator.add_charger()
        sim = await nodes.charger_on(nodes.a, charger)
        async with client_for(nodes.b, operator) as on_b:
            created = await start_session(on_b, charger.port, iso(10))
            await poll_queue(on_b, created["queue_uuid"])
            sim.url = nodes.b.ws_url  # the load balancer sends it to the surviving node
            nodes.a.kill()
            await sim.wait_until(lambda: sim.connections == 2, timeout=30)
            await sim.wait_until(lambda: sim.stop_requests == 1, timeout=30)
            await poll_transaction(
                on_b, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
            )
            await asyncio.sleep(2)
        assert sim.stop_requests == 1
    finally:
        await nodes.stop()


async def stale_socket_traffic(nodes: Cluster) -> tuple[list[Any], int | None]:
    """Open a socket for a charger on A and leave it, then connect the charger to B and start
    a session through each node. Returns the frames the stale socket got, and its close code."""
    operator = await nodes.a.operator()
    charger = await operator.add_charger(connectors=2)
    frames: list[Any] = []
    close_code = None
    async with connect(
        f"{nodes.a.ws_url}/{charger.charge_point_id}", subprotocols=["ocpp1.6"]
    ) as stale:
        await stale.send(
            json.dumps(
                [2, "b", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}]
            )
        )
        # Its answer comes once A has claimed the connection: the charger then moves to B.
        assert json.loads(await stale.recv())[:2] == [3, "b"]
        sim = await nodes.charger_on(nodes.b, charger)
        async with client_for(nodes.a, operator) as on_a, client_for(nodes.b, operator) as on_b:
            await start_session(on_a, charger.port_uuids[0], iso(600))
            await start_session(on_b, charger.port_uuids[1], iso(600))
            await sim.wait_until(lambda: sim.start_requests == 2, timeout=30)
        deadline = time.monotonic() + 3
        try:
            while time.monotonic() < deadline:
                async with asyncio.timeout(deadline - time.monotonic()):
                    frames.append(json.loads(await stale.recv()))
        except TimeoutError:
            pass
        except websockets.ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd else None
    return frames, close_code


async def test_half_open_socket_on_the_old_node_gets_nothing(tmp_path: Path) -> None:
    """Epoch check: even with no broker to tell it, node A never sends on the stale socket."""
    nodes = await cluster(tmp_path, None)
    try:
        frames, _ = await stale_socket_traffic(nodes)
    finally:
        await nodes.stop()
    actions = [frame[2] for frame in frames if frame[0] == 2]
    assert "RemoteStartTransaction" not in actions, frames


@needs_redis
async def test_old_node_closes_the_stale_socket(tmp_path: Path) -> None:
    nodes = await cluster(tmp_path, REDIS_URL)
    try:
        frames, close_code = await stale_socket_traffic(nodes)
    finally:
        await nodes.stop()
    assert close_code == 4000, frames
    assert "RemoteStartTransaction" not in [frame[2] for frame in frames if frame[0] == 2]


@pytest.mark.skipif(
    subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0,
    reason="needs the redis-server binary to run a private broker it can stop",
)
async def test_broker_stopped_mid_test_poll_carries_on(tmp_path: Path) -> None:
    port = free_port()
    broker = await asyncio.create_subprocess_exec(
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=subprocess.DEVNULL,
    )
    nodes = None
    try:
        for _ in range(50):
            if redis_answers(port):
                break
            await asyncio.sleep(0.1)
        nodes = await cluster(tmp_path, f"redis://127.0.0.1:{port}/0", poll_s=1)
        operator = await nodes.a.operator()
        charger = await operator.add_charger(connectors=2)
        sim = await nodes.charger_on(nodes.a, charger)
        async with client_for(nodes.b, operator) as on_b:
            first = await start_session(on_b, charger.port_uuids[0], iso(600))
            await poll_queue(on_b, first["queue_uuid"])
            await asyncio.sleep(1.5)  # the charger has gone quiet: nothing else wakes node A

            broker.kill()
            await broker.wait()
            began = time.monotonic()
            created = await start_session(on_b, charger.port_uuids[1], iso(600))
            await sim.wait_until(lambda: sim.start_requests == 2, timeout=30)
            print(f"cross-node start with the broker down: {time.monotonic() - began:.2f} s")
            assert (await poll_queue(on_b, created["queue_uuid"]))["state"] == "Open"
            for node in (nodes.a, nodes.b):
                ready = await on_b.get(f"{node.base_url}/readyz")
                assert ready.status_code == 200, ready.text
    finally:
        if broker.returncode is None:
            broker.kill()
            await broker.wait()
        if nodes is not None:
            await nodes.stop()


async def test_without_a_broker_the_poll_delivers(tmp_path: Path) -> None:
    nodes = await cluster(tmp_path, None, poll_s=1)
    try:
        operator = await nodes.a.operator()
        charger = await operator.add_charger()
        sim = await nodes.charger_on(nodes.a, charger)
        async with client_for(nodes.b, operator) as on_b:
            began = time.monotonic()
            created = await start_session(on_b, charger.port, iso(600))
            await sim.wait_until(lambda: sim.start_requests == 1, timeout=30)
            print(f"cross-node start by database poll (1 s): {time.monotonic() - began:.2f} s")
            assert (await poll_queue(on_b, created["queue_uuid"]))["state"] == "Open"
    finally:
        await nodes.stop()


async def test_two_nodes_claiming_one_charger_at_once_get_epochs_of_their_own(
    server: Server,
) -> None:
    """The second claim waits for the first one's row lock, then counts on from its epoch: with
    the same epoch, neither node would close its socket and both would send."""
    charger = await (await server.operator()).add_charger()
    engine = create_engine(server.database_url)
    sessions = session_factory(engine)

    async def claim(node: str) -> int | None:
        async with sessions() as session, session.begin():
            claimed = await charger_store.claim_connections(
                session, [charger.charge_point_id], node, "ocpp1.6", utcnow()
            )
            return claimed.get(charger.charge_point_id)

    async def someone_waits_for_a_lock() -> bool:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            return bool(waiting)

    try:
        async with sessions() as first, first.begin():
            on_a = (
                await charger_store.claim_connections(
                    first, [charger.charge_point_id], "a", "ocpp1.6", utcnow()
                )
            ).get(charger.charge_point_id)
            on_b = asyncio.create_task(claim("b"))
            await eventually(someone_waits_for_a_lock)
        assert on_a is not None
        assert await on_b == on_a + 1
    finally:
        await engine.dispose()


@needs_redis
async def test_a_command_posted_to_the_other_node(tmp_path: Path) -> None:
    """Sent to node B for a charger on node A, a command is delivered; so is one posted to B
    while the charger is away, once it connects to A."""
    nodes = await cluster(tmp_path, REDIS_URL)
    try:
        operator = await nodes.a.operator()
        charger, later = await operator.add_charger(), await operator.add_charger()
        sim = await nodes.charger_on(nodes.a, charger)
        async with client_for(nodes.b, operator) as on_b:
            body = {"action": "unlock_connector", "params": {"port": 1}}
            sent = await on_b.post(f"/chargers/{charger.charge_point_id}/commands", json=body)
            waiting = await on_b.post(f"/chargers/{later.charge_point_id}/commands", json=body)
            assert sent.status_code == waiting.status_code == 202
            done = await poll_queue(on_b, sent.json()["id"])
            assert done["result"] == {"status": "Unlocked"}, done
            arrived = await nodes.charger_on(nodes.a, later)
            done = await poll_queue(on_b, waiting.json()["id"])
            assert done["result"] == {"status": "Unlocked"}, done
        assert sim.count("UnlockConnector") == arrived.count("UnlockConnector") == 1
    finally:
        await nodes.stop()


@needs_redis
async def test_a_charger_disabled_through_one_node_is_sent_away_by_the_other(
    tmp_path: Path,
) -> None:
    """PATCH disabled on node B: node A, which holds the charger, closes its socket (told by
    an eviction over the broker)."""
    nodes = await cluster(tmp_path, REDIS_URL, poll_s=30)
    try:
        operator = await nodes.a.operator()
        registered = await operator.add_charger()
        sim = await nodes.charger_on(nodes.a, registered)
        async with client_for(nodes.b, operator) as on_b:
            answer = await on_b.patch(
                f"/chargers/{registered.charge_point_id}", json={"disabled": True}
            )
            assert answer.status_code == 200, answer.text
            await sim.wait_until(lambda: not sim.online, timeout=15)
            await sim.power_off()
            got = await on_b.get(f"/chargers/{registered.charge_point_id}")
            assert got.json()["online"] is False and got.json()["disabled"] is True
    finally:
        await nodes.stop()
