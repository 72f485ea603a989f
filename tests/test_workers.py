"""`chargegate serve --workers N`: worker processes sharing one port, each a node of the multi-node
design on one PostgreSQL database (issue 16, point 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade
from support import (
    Charger,
    Operator,
    Server,
    eventually,
    free_port,
    poll_queue,
    start_session,
    stop_session,
)

NODES = {"nx-w0", "nx-w1"}


def workers_of(supervisor: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:
        pids = {int(pid) for pid in children.read().split()}
    workers = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    workers.add(pid)
        except FileNotFoundError:
            pass  # exited meanwhile
    return workers


async def connect(server: Server, operator: Operator) -> tuple[Charger, SimulatedCharger]:
    charger = await operator.add_charger()
    sim = SimulatedCharger(url=server.ws_url, charge_point_id=charger.charge_point_id)
    sim.start()
    await sim.wait_until(lambda: sim.online)
    return charger, sim


async def on_both_workers(
    server: Server, operator: Operator, api: httpx.AsyncClient, sims: list[SimulatedCharger]
) -> dict[str, Charger]:
    """Connects chargers until each worker holds one (the kernel picks a worker for each
    connection); returns one charger per worker's node."""
    held: dict[str, Charger] = {}
    for _ in range(40):
        charger, sim = await connect(server, operator)
        sims.append(sim)
        held[await node_of(api, charger)] = charger
        if set(held) == NODES:
            return held
    raise AssertionError(f"every charger went to {set(held)}")


async def node_of(api: httpx.AsyncClient, charger: Charger) -> str:
    body = (await api.get(f"/chargers/{charger.charge_point_id}")).json()
    return str(body["node"])


def test_workers_need_postgresql(tmp_path: Path) -> None:
    env = {**os.environ, "CHARGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "chargegate", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done
    assert "--workers needs PostgreSQL" in done.stderr


@pytest.mark.postgres_only
async def test_workers_share_the_port_and_a_killed_worker_is_replaced(tmp_path: Path) -> None:
    """Chargers land on both workers; a start sent through one worker reaches a charger held by
    the other; a worker killed outright is started again, its chargers come back and the
    session they carried stops once."""
    server = Server(
        workdir=tmp_path,
        extra_args=["--workers", "2", "--node-id", "nx"],
        # No broker: the workers find each other's commands by polling the database.
        extra_env={"CHARGEGATE_POLL_INTERVAL_S": "0.5"},
    )
    sims: list[SimulatedCharger] = []
    await upgrade(server.database_url)
    server.start()
    try:
        assert server.process is not None
        supervisor = server.process.pid
        operator = await server.operator()
        try:
            async with operator.client() as api:
                held = await on_both_workers(server, operator, api, sims)
                # This client's connection is kept alive: its requests go to one worker.
                ready = await api.get(f"{server.base_url}/readyz")
                here = ready.json()["node_id"]
                (there,) = NODES - {here}
                created = await start_session(api, held[there].port_uuids[0])
                opened = await poll_queue(api, created["queue_uuid"])
                assert opened["state"] == "Open", opened

            before = workers_of(supervisor)
            assert len(before) == 2, before
            os.kill(min(before), signal.SIGKILL)

            async def replaced() -> bool:
                now = workers_of(supervisor)
                return len(now) == 2 and now != before

            await eventually(replaced, timeout=60)
            # Each worker held a charger: those of the killed one connect again.
            await eventually(lambda: back(sims), timeout=60)
            async with operator.client() as api:
                closed = await stop_session(api, created["transaction_uuid"])
                assert closed["state"] == "Closed", closed
                # The worker started again serves, under its name.
                await on_both_workers(server, operator, api, sims)
            assert sum(sim.stop_requests for sim in sims) == 1
            last = workers_of(supervisor)
        finally:
            for sim in sims:
                await sim.power_off()
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()  # stopped as asked, workers drained
    assert not [pid for pid in last if alive(pid)], "a worker was left behind"


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie (an orphan's exit is reaped by whoever adopts it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def back(sims: list[SimulatedCharger]) -> bool:
    reconnected = sum(sim.connections for sim in sims) > len(sims)
    return reconnected and all(sim.online for sim in sims)


@pytest.mark.postgres_only
async def test_workers_leave_with_a_supervisor_killed_outright(tmp_path: Path) -> None:
    """No orphan keeps serving (and holding the port) once nothing would restart or stop it."""
    server = Server(workdir=tmp_path, extra_args=["--workers", "2", "--node-id", "nx"])
    await upgrade(server.database_url)
    server.start()
    assert server.process is not None
    workers = workers_of(server.process.pid)
    assert len(workers) == 2, workers
    server.kill()

    async def gone() -> bool:
        return not [pid for pid in workers if alive(pid)]

    await eventually(gone, timeout=60)
