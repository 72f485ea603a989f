"""Cross-node start latency: POST /1.2/transactions to node B, charger on node A.

Measures the time until the RemoteStartTransaction reaches the charger, with the Redis broker
and with the database poll alone. Needs PostgreSQL at 127.0.0.1:5432 (database `test`) and, for
the broker figure, Redis at 127.0.0.1:6379. Prints figures; asserts nothing.

    .venv/bin/python bench/cross_node_latency.py [--samples 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from common import UNLIMITED

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).with_name("results")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fresh_database() -> str:
    name = f"cg_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return name


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


def start_node(node_id: str, port: int, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chargegate", "serve", "--port", str(port), "--node-id", node_id],
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_up(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"node on {port} did not start")


async def measure(broker: str | None, samples: int) -> list[float]:
    name = await fresh_database()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    env = {**os.environ, **UNLIMITED, "CHARGEGATE_DATABASE_URL": url}
    env["CHARGEGATE_LOG_LEVEL"] = "warning"
    env.pop("CHARGEGATE_BROKER_URL", None)
    if broker:
        env["CHARGEGATE_BROKER_URL"] = broker
    await upgrade(url)
    settings = Settings(database_url=url)
    key = await provisioning.create_api_key(settings, "bench")
    added = await provisioning.add_charger(
        settings, "BENCH-CP", "bench", samples, None, insecure_no_password=True
    )
    ports = [p["port_uuid"] for p in added["ports"]]
    port_a, port_b = free_port(), free_port()
    log = tempfile.mktemp(prefix="chargegate-bench-", suffix=".log")
    nodes = [start_node("node-a", port_a, env, log), start_node("node-b", port_b, env, log)]
    sim = SimulatedCharger(
        url=f"ws://127.0.0.1:{port_a}/ocpp", charge_point_id="BENCH-CP", connectors=samples
    )
    latencies: list[float] = []
    try:
        await wait_up(port_a)
        await wait_up(port_b)
        sim.start()
        await sim.wait_until(lambda: sim.online, timeout=15)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port_b}/1.2", headers={"x-api-key": key}
        ) as client:
            for index, port_uuid in enumerate(ports):
                began = time.perf_counter()
                response = await client.post(
                    "/transactions", json={"port_uuid": port_uuid, "expires": expires}
                )
                response.raise_for_status()
                await sim.wait_until(lambda i=index: sim.start_requests > i, timeout=10)
                latencies.append(time.perf_counter() - began)
                # Spread the samples over the poll interval rather than in phase with it.
                await asyncio.sleep(0.37)
    finally:
        await sim.power_off()
        for node in nodes:
            node.terminate()
            node.wait(20)
        await drop_database(name)
    return latencies


def row(label: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"| {label} | {len(ordered)} | {statistics.median(ordered) * 1000:.1f} ms "
        f"| {p99 * 1000:.1f} ms | {ordered[-1] * 1000:.1f} ms |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 samples each")
    args = parser.parse_args()
    samples = 5 if args.quick else args.samples
    lines = [
        "### Cross-node start latency (two nodes, PostgreSQL)",
        "",
        "From POST /1.2/transactions on node B to RemoteStartTransaction at a charger on node A.",
        "",
        "| wake-up path | n | p50 | p99 | max |",
        "|---|---|---|---|---|",
        row("Redis broker", await measure("redis://127.0.0.1:6379/0", samples)),
        row("database poll only (every 2 s)", await measure(None, samples)),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cross_node.md").write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
