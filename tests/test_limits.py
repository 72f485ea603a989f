"""Bounds on what a client, a charger or a broker message can make the server do: charge point
ids, auto-registration, malformed broker messages, far-away expiries (issue 12, point 6).
Cursor and list bounds are in tests/test_pagination.py, the dashboard's in test_dashboard.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
import websockets
from websockets import Subprotocol
from websockets.asyncio.client import connect

from chargegate.store.migrate import upgrade
from support import (
    BOOTS,
    Server,
    Simulators,
    eventually,
    free_port,
    holding_the_writer,
    online,
    poll_queue,
    start_session,
)

REPLACED = 4000


async def handshake_answer(url: str) -> tuple[int, bytes]:
    """The HTTP status and body that refused this WebSocket handshake."""
    with pytest.raises(websockets.InvalidStatus) as info:
        async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=10):
            pass
    response = info.value.response
    return response.status_code, response.body or b""


@pytest.fixture
def auto_server(tmp_path: Path) -> Any:
    """Auto-registration on (without credentials, asked for by name: these tests are about the
    bound), bounded at two chargers."""
    env = {
        "CHARGEGATE_AUTO_REGISTER": "true",
        "CHARGEGATE_AUTO_REGISTER_INSECURE": "true",
        "CHARGEGATE_AUTO_REGISTER_MAX": "2",
    }
    with Server(workdir=tmp_path, extra_env=env).running() as server:
        yield server


async def booted(url: str) -> None:
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=10) as ws:
        await ws.send(json.dumps([2, "1", "BootNotification", BOOTS["ocpp1.6"]]))
        while True:
            frame = json.loads(await ws.recv())
            if frame[0] == 3:
                return
            await ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))


async def test_ids_ocpp_does_not_allow_are_400_at_the_handshake(auto_server: Server) -> None:
    """Over 48 characters used to be a 500 on PostgreSQL during auto-registration (and a stored
    row on SQLite, which does not enforce column widths); characters outside OCPP's
    identifierString went into the table as they came. Now: HTTP 400 saying why, nothing
    stored, and the longest and oddest ids OCPP allows still register."""
    for bad in ("C" * 49, "CP%20one", "CP:1", "CP%C3%A9", "CP%00"):
        status, body = await handshake_answer(f"{auto_server.ws_url}/{bad}")
        assert status == 400, (bad, status, body)
        assert "48 characters" in json.loads(body)["message"], body
    log = auto_server.log()
    assert "refused charger handshake" in log and "auto-registered" not in log
    await booted(f"{auto_server.ws_url}/{'C' * 48}")
    await booted(f"{auto_server.ws_url}/a.B-9_*=+|@")
    assert auto_server.log().count("auto-registered charger") == 2


async def test_auto_registration_stops_at_its_bound(auto_server: Server) -> None:
    """Any made-up id used to add a row. Beyond CHARGEGATE_AUTO_REGISTER_MAX the unknown id is
    refused and the refusal logged; chargers registered before still connect."""
    first, second, third = (f"AUTO-{uuid.uuid4().hex[:8]}" for _ in range(3))
    await booted(f"{auto_server.ws_url}/{first}")
    await booted(f"{auto_server.ws_url}/{second}")
    status, _ = await handshake_answer(f"{auto_server.ws_url}/{third}")
    assert status == 403
    assert "refused auto-registration" in auto_server.log()
    await booted(f"{auto_server.ws_url}/{first}")  # known chargers are not affected


async def test_a_refusal_once_full_does_not_wait_for_the_writer(auto_server: Server) -> None:
    """Once the bound is reached, new ids (a leaked bootstrap secret's flood) are refused by a
    read beside the writer: while the writer is held (on PostgreSQL, the auto-registration
    operator's row), the refusal still comes at once."""
    first = f"AUTO-{uuid.uuid4().hex[:8]}"
    await booted(f"{auto_server.ws_url}/{first}")
    await booted(f"{auto_server.ws_url}/AUTO-{uuid.uuid4().hex[:8]}")
    # Any id: the operator row is locked by name.
    async with holding_the_writer(auto_server, "default", row="operators WHERE name = $1"):
        status, _ = await handshake_answer(f"{auto_server.ws_url}/AUTO-{uuid.uuid4().hex[:8]}")
        assert status == 403
    await booted(f"{auto_server.ws_url}/{first}")


async def test_first_handshakes_of_one_new_id_at_once_register_it_once(
    auto_server: Server,
) -> None:
    """Handshakes of an id nobody registered yet, all at once: each saw no charger, and all
    but the first to insert it hit the unique index (a 500 with a traceback). Now one row is
    added and every handshake is admitted as that charger."""
    charge_point_id = f"AUTO-{uuid.uuid4().hex[:8]}"
    url = f"{auto_server.ws_url}/{charge_point_id}"

    async def handshake() -> int:
        try:
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=20):
                return 101
        except websockets.InvalidStatus as exc:
            return int(exc.response.status_code)

    statuses = await asyncio.gather(*(handshake() for _ in range(8)))
    assert statuses == [101] * 8, statuses
    log = auto_server.log()
    assert log.count("auto-registered charger") == 1
    assert "Traceback" not in log and "IntegrityError" not in log


async def test_first_handshakes_of_new_ids_at_once_create_their_operator_once(
    auto_server: Server,
) -> None:
    """The auto-registration operator does not exist before the first charger: handshakes of
    several new ids at once each found none, and all but the first to insert it hit the unique
    name (a 500 on PostgreSQL). Now each is admitted or refused by the bound, never a 500."""

    async def handshake(charge_point_id: str) -> int:
        url = f"{auto_server.ws_url}/{charge_point_id}"
        try:
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=20):
                return 101
        except websockets.InvalidStatus as exc:
            return int(exc.response.status_code)

    ids = [f"AUTO-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    statuses = sorted(await asyncio.gather(*(handshake(cp) for cp in ids)))
    assert statuses == [101] * 2 + [403] * 6, statuses  # CHARGEGATE_AUTO_REGISTER_MAX is 2
    log = auto_server.log()
    assert log.count("auto-registered charger") == 2
    assert "Traceback" not in log and "IntegrityError" not in log


def test_cli_refuses_an_id_no_charger_could_log_in_with(tmp_path: Path) -> None:
    env = {**os.environ, "CHARGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    for bad in ("C" * 49, "CP 1", "CP:1"):
        added = subprocess.run(
            [sys.executable, "-m", "chargegate", "chargers", "add", bad, "--operator", "acme"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert added.returncode == 1, (bad, added.stdout)
        assert "48 characters" in added.stderr, added.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "chargegate", "chargers", "add", "CP-ok", "--operator", "acme"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr


@pytest.fixture
async def broker() -> AsyncIterator[str]:
    """A Redis of this test's own (the malformed messages must reach no other test's server)."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary (apt-get install redis-server)")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:

        async def answers() -> bool:
            try:
                return bool(await client.ping())
            except (redis.ConnectionError, OSError):
                return False

        await eventually(answers, timeout=10)
        yield url
    finally:
        await client.aclose()
        process.kill()
        await process.wait()


async def test_malformed_broker_messages_are_logged_and_the_listener_goes_on(
    tmp_path: Path, broker: str
) -> None:
    """A message on chargegate's channels that is not one of ours (not JSON, no epoch, an epoch
    that is not a number, an id no charger has) used to end the listener task: after it, the
    node never closed a stale socket again. Now each is logged and skipped, and a real eviction
    sent after them still closes the charger's old socket."""
    server = Server(workdir=tmp_path, extra_env={"CHARGEGATE_BROKER_URL": broker})
    publisher = redis.Redis.from_url(broker)
    await upgrade(server.database_url)
    server.start()
    try:
        operator = await server.operator()
        charger = await operator.add_charger()
        url = f"{server.ws_url}/{charger.charge_point_id}"

        async def subscribed() -> bool:
            counts = dict(await publisher.pubsub_numsub("chargegate:evict"))
            return bool(counts.get(b"chargegate:evict"))

        await eventually(subscribed)
        async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
            for channel, data in (
                ("chargegate:evict", b"not json"),
                ("chargegate:evict", b"\xff\xfe"),
                ("chargegate:evict", b"[1, 2]"),
                ("chargegate:evict", json.dumps({"charge_point_id": charger.charge_point_id})),
                ("chargegate:evict", json.dumps({"charge_point_id": "X", "epoch": "one"})),
                ("chargegate:evict", json.dumps({"charge_point_id": 7, "epoch": 1})),
                ("chargegate:evict", json.dumps({"charge_point_id": "X" * 10_000, "epoch": 1})),
                ("chargegate:wake", json.dumps({"topics": 5})),
                ("chargegate:wake", b"{"),
                ("chargegate:wake", json.dumps({"topics": [[1]]})),
                ("chargegate:wake", json.dumps({"topics": [{}]})),
                ("chargegate:wake", json.dumps({"topics": [None, 1.5]})),
                ("chargegate:wake", json.dumps({"topics": [["a"], {"b": 1}]})),
            ):
                await publisher.publish(channel, data)
            evict = {"charge_point_id": charger.charge_point_id, "epoch": 10**6, "node": "other"}
            await publisher.publish("chargegate:evict", json.dumps(evict))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(15):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == REPLACED
        assert server.log().count("ignored a malformed broker message") == 13
    finally:
        server.stop()
        await publisher.aclose()


async def test_fail_safe_period_fits_32_bits_for_any_expiry(
    server: Server, simulators: Simulators
) -> None:
    """An expiry 170 years away used to give the TxProfile a startPeriod beyond 2^31-1 (an
    OCPP integer is 32 bits). It is clamped: the limit drops 2^31-1 s (68 years) from now,
    before expires, never after; the session itself keeps the expiry it was given."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, smart_charging=True)
    await sim.wait_until(lambda: sim.count("GetConfiguration") + sim.count("GetVariables") > 0)
    async with operator.client() as client:

        async def probed() -> bool:
            # The charger said it takes profiles (a start sent before would carry none).
            created = await start_session(client, charger.port, "2199-12-31T23:00:00+0000")
            started = await poll_queue(client, created["queue_uuid"])
            # Before the clamp, the charger refused the start its 5.6e9 s period came with.
            assert started.get("state") == "Open", started
            found = "chargingProfile" in sim.requests(sim.dialect.start_request)[-1]
            if not found:
                stop = await client.patch(
                    f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
                )
                await poll_queue(client, stop.json()["id"])
            else:
                tx = await client.get(f"/transactions/{created['transaction_uuid']}")
                assert tx.json()["expires"] == "2199-12-31T23:00:00", tx.text
            return found

        await eventually(probed)
    profile = sim.requests(sim.dialect.start_request)[-1]["chargingProfile"]
    schedule = profile["chargingSchedule"]
    periods = (schedule[0] if isinstance(schedule, list) else schedule)["chargingSchedulePeriod"]
    assert periods[-1] == {"startPeriod": 2**31 - 1, "limit": 0.0}, periods
