"""kill -9 of the server mid-session: nothing accepted is lost, and the stop still happens once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from support import (
    RESTART_ENV,
    Server,
    Simulators,
    api_time,
    iso,
    online,
    poll_queue,
    poll_transaction,
    start_session,
)

pytestmark = pytest.mark.server_env(RESTART_ENV)


async def test_scheduled_stop_survives_kill(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    # Far enough ahead that a restart on a loaded machine ends before it.
    expires = iso(30)
    async with operator.client() as client:
        created = await start_session(client, charger.port, expires)
        await poll_queue(client, created["queue_uuid"])

        server.kill()
        await sim.wait_until(lambda: not sim.online)
        server.start()
        await sim.wait_until(lambda: sim.online, timeout=30)

        # Everything accepted before the crash is still there.
        queue = (await client.get(f"/queue/{created['queue_uuid']}")).json()
        assert queue["state"] == "Open"
        assert queue["expires"] == expires[:19]

        await sim.wait_until(lambda: sim.stop_requests == 1, timeout=60)
        late = datetime.now(UTC) - api_time(expires[:19])
        # Not before its expiry; the bound after it only has to survive a loaded machine's
        # restart, as the scheduler also polls every 2 s.
        assert timedelta(0) <= late < timedelta(seconds=30), late
        closed = await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        assert closed["ended"] is not None
    await asyncio.sleep(1.5)
    assert sim.stop_requests == 1


async def test_overdue_stop_goes_out_after_restart(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        assert (await poll_queue(client, created["queue_uuid"]))["state"] == "Open"
        # Shortened once open (a start slower than the expiry would fail instead), then the
        # server goes down before it comes.
        path = f"/transactions/{created['transaction_uuid']}"
        expires = datetime.now(UTC) + timedelta(seconds=3)
        patched = await client.patch(path, json={"expires": expires.isoformat()})
        assert patched.status_code == 204, patched.text
        server.kill()
        # The expiry passes while the server is down.
        await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 1)
        assert sim.stop_requests == 0
        server.start()
        await sim.wait_until(lambda: sim.stop_requests == 1, timeout=30)
        await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
    assert sim.stop_requests == 1


async def test_pending_stop_survives_kill_while_charger_offline(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        await poll_queue(client, created["queue_uuid"])
        await sim.stop()  # the charger drops off the network mid-session

        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        assert patched.status_code == 202
        stop_queue = patched.json()["id"]
        assert (await client.get(f"/queue/{stop_queue}")).json()["status"] == "IN PROGRESS"

        server.kill()
        server.start()
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Open"  # still charging as far as anyone knows

        sim.start()  # the charger comes back: the stored stop goes out now
        done = await poll_queue(client, stop_queue)
        assert done["state"] == "Closed"
    assert sim.stop_requests == 1


async def test_start_request_survives_kill(server: Server, simulators: Simulators) -> None:
    """A start the charger accepted but has not begun yet keeps its deadline across a crash."""
    operator = await server.operator()
    charger = await operator.add_charger()
    await online(simulators, server, charger, ev_plugged_in=False)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        server.kill()
        server.start()
        failed = await poll_queue(client, created["queue_uuid"], timeout=30)
        assert failed["status"] == "FAILURE"
        assert "No EV" in failed["reason"]
