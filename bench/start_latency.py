"""Start latency on one node: from POST /1.2/transactions to the RemoteStartTransaction at the
charger, and to GET /1.2/queue/<id> reporting success. Simulated chargers run in this process.

    .venv/bin/python bench/start_latency.py [--starts 200] [--quick]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import UNLIMITED

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade

RESULTS = Path(__file__).with_name("results")
CONNECTORS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"{statistics.median(ordered) * 1000:.1f} ms | {p99 * 1000:.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    starts = 20 if args.quick else args.starts
    chargers = -(-starts // CONNECTORS)
    workdir = tempfile.mkdtemp(prefix="chargegate-start-")
    url = f"sqlite+aiosqlite:///{workdir}/cg.db"
    await upgrade(url)
    settings = Settings(database_url=url)
    key = await provisioning.create_api_key(settings, "bench")
    ports: list[tuple[int, str]] = []
    for n in range(chargers):
        added = await provisioning.add_charger(
            settings, f"START-{n}", "bench", CONNECTORS, None, insecure_no_password=True
        )
        ports += [(n, p["port_uuid"]) for p in added["ports"]]
    port = free_port()
    env = {**os.environ, **UNLIMITED, "CHARGEGATE_DATABASE_URL": url}
    env["CHARGEGATE_LOG_LEVEL"] = "warning"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chargegate", "serve", "--port", str(port),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sims = [
        SimulatedCharger(
            url=f"ws://127.0.0.1:{port}/ocpp", charge_point_id=f"START-{n}", connectors=CONNECTORS
        )
        for n in range(chargers)
    ]
    to_charger: list[float] = []
    to_success: list[float] = []
    try:
        for sim in sims:
            sim.start()
        for sim in sims:
            await sim.wait_until(lambda sim=sim: sim.online, timeout=30)
        await asyncio.sleep(1)  # the smart-charging probes after boot are answered
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/1.2", headers={"x-api-key": key}
        ) as client:
            for index, port_uuid in ports[:starts]:
                sim = sims[index]
                before = sim.start_requests
                began = time.perf_counter()
                response = await client.post(
                    "/transactions", json={"port_uuid": port_uuid, "expires": expires}
                )
                response.raise_for_status()
                queue = response.json()["queue_uuid"]
                await sim.wait_until(lambda s=sim, b=before: s.start_requests > b, timeout=10)
                to_charger.append(time.perf_counter() - began)
                # An app learns of success by polling, so the benchmark polls too.
                while (await client.get(f"/queue/{queue}")).json().get("state") != "Open":  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                to_success.append(time.perf_counter() - began)
    finally:
        for sim in sims:
            await sim.power_off()
        server.terminate()
        await server.wait()
    text = (
        "### Start latency (one node, SQLite)\n\n"
        f"{len(to_charger)} starts, one at a time, over {chargers} simulated chargers on loopback. "
        "Target: p99 under 20 ms to the charger.\n\n"
        "| from POST /1.2/transactions to | p50 | p99 |\n|---|---|---|\n"
        f"| RemoteStartTransaction at the charger | {percentiles(to_charger)} |\n"
        f"| GET /1.2/queue/<id> reports Open | {percentiles(to_success)} |\n"
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "start_latency.md").write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
