"""Running a node: health endpoints and graceful shutdown."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from chargegate.server import LISTEN_BACKLOG
from support import Server, Simulators, iso, online, poll_queue, poll_transaction, start_session


async def test_health_and_readiness(shared_server: Server) -> None:
    async with httpx.AsyncClient(base_url=shared_server.base_url) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "node_id": "node-1"}


async def test_graceful_shutdown_finishes_commands_in_flight(
    server: Server, simulators: Simulators
) -> None:
    """SIGTERM while a stop awaits the charger's answer: the node stops taking chargers and
    reports not ready, waits for the answer, then sends the chargers away. After a restart
    nothing is sent twice."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, stop_delay_s=0.2, stop_answer_delay_s=1.5)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        await poll_queue(client, created["queue_uuid"])
        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        await sim.wait_until(lambda: sim.stop_requests == 1)

        assert server.process is not None
        server.process.terminate()
        statuses = set()
        deadline = time.monotonic() + 5
        async with httpx.AsyncClient(base_url=server.base_url) as probe:
            while time.monotonic() < deadline and server.process.poll() is None:
                try:
                    statuses.add((await probe.get("/readyz", timeout=1)).status_code)
                except httpx.TransportError:
                    break
                await asyncio.sleep(0.05)
        assert 503 in statuses, statuses
        # uvicorn re-raises SIGTERM once it has shut down cleanly.
        assert server.process.wait(15) in (0, -signal.SIGTERM)
        assert not sim.online

        server.start()
        await sim.wait_until(lambda: sim.online, timeout=30)
        done = await poll_queue(client, patched.json()["id"])
        assert done["state"] == "Closed"
        await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        await asyncio.sleep(3)  # past the in-doubt settle time: nothing is sent again
    assert sim.stop_requests == 1


def test_the_listening_socket_queues_what_a_fleet_reconnecting_at_once_needs(
    shared_server: Server,
) -> None:
    """Connections not yet accepted: as many as the kernel allows (net.core.somaxconn), not
    uvicorn's default of 2,048, which a fleet reconnecting after a restart overflows."""
    ss = shutil.which("ss") or shutil.which("ss", path="/usr/sbin:/sbin")
    if ss is None:
        pytest.skip("needs ss (`make test-tools` installs iproute2 as root on Debian)")
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    listed = subprocess.run(
        [ss, "-ltnH", f"sport = :{shared_server.port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # State, Recv-Q, Send-Q (a listening socket's backlog), local and peer addresses.
    assert int(listed[2]) == min(somaxconn, LISTEN_BACKLOG), listed
