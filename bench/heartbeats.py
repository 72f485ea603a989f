"""Heartbeat round trips against one `chargegate serve` (SQLite), from C raw WebSocket chargers
each sending N heartbeats one after another. The figure behind bench/profile.md.

    .venv/bin/python bench/heartbeats.py [--chargers 50] [--each 100] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

RESULTS = Path(__file__).with_name("results")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def charger(url: str, name: str, count: int, latencies: list[float]) -> None:
    async with websockets.connect(f"{url}/{name}", subprotocols=["ocpp1.6"]) as ws:
        boot = {"chargePointVendor": "bench", "chargePointModel": "heartbeats"}
        await ws.send(json.dumps([2, "boot", "BootNotification", boot]))
        while json.loads(await ws.recv())[0] != 3:
            pass
        for n in range(count):
            began = time.perf_counter()
            await ws.send(json.dumps([2, str(n), "Heartbeat", {}]))
            while True:
                frame = json.loads(await ws.recv())
                if frame[0] != 2:
                    break
                # The server's own question after boot: answered as a minimal charger would.
                await ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))
            latencies.append(time.perf_counter() - began)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--each", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    chargers, each = (10, 50) if args.quick else (args.chargers, args.each)
    workdir = tempfile.mkdtemp(prefix="chargegate-heartbeats-")
    port = free_port()
    env = {
        **os.environ,
        "CHARGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/cg.db",
        "CHARGEGATE_CHARGER_RATE_PER_S": "100000",
        "CHARGEGATE_CHARGER_BURST": "100000",
        "CHARGEGATE_LOG_LEVEL": "warning",
    }
    server = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "chargegate",
            "serve",
            "--port",
            str(port),
            "--auto-register",
            "--auto-register-insecure",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"ws://127.0.0.1:{port}/ocpp"
        for _ in range(200):
            try:
                async with websockets.connect(f"{url}/probe", subprotocols=["ocpp1.6"]):
                    break
            except OSError:
                await asyncio.sleep(0.05)
        latencies: list[float] = []
        began = time.perf_counter()
        await asyncio.gather(*(charger(url, f"HB-{n}", each, latencies) for n in range(chargers)))
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        await server.wait()
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    text = (
        "### Heartbeat round trips (one node, SQLite)\n\n"
        f"{chargers} chargers x {each} heartbeats each, sent one after another per charger "
        "(the load generator shares the machine's 2 cores).\n\n"
        "| round trips/s | p50 | p99 |\n|---|---|---|\n"
        f"| {len(latencies) / elapsed:.0f} | {statistics.median(latencies) * 1000:.1f} ms "
        f"| {p99 * 1000:.1f} ms |\n"
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "heartbeats.md").write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
