"""API requests per second and latency, on SQLite and on PostgreSQL.

For each database: --ports ports on OCPP 1.6 chargers from bench/js/sessions.mjs (npm ocpp-rpc)
that accept every start. Then, at a fixed --concurrency:
- `POST /1.2/transactions`: one start per free port (a real start: the command goes out and
  the charger answers while later requests arrive);
- `GET /1.2/queue/<id>` on those queue items, repeated for --seconds.
Latency is measured at the client (httpx, in this process, sharing the machine's cores).

    .venv/bin/python bench/api.py [--ports 2000] [--concurrency 16] [--seconds 10] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import (
    RESULTS,
    database,
    ms,
    postgres_available,
    provision,
    quantile,
    start_chargers,
    start_server,
    stop_server,
)

CONNECTORS = 2


async def load(concurrency: int, requests: Any, call: Any) -> tuple[list[float], int, float]:
    """Runs call(request) for each request from the shared iterator with `concurrency`
    workers; returns latencies (s), non-2xx answers and the elapsed time."""
    latencies: list[float] = []
    bad = 0

    async def worker() -> None:
        nonlocal bad
        for request in requests:
            began = time.perf_counter()
            response = await call(request)
            latencies.append(time.perf_counter() - began)
            bad += response.status_code >= 300

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, bad, time.perf_counter() - began


def row(label: str, kind: str, latencies: list[float], bad: int, took: float) -> str:
    return (
        f"| {label} | {kind} | {len(latencies)} | {len(latencies) / took:.0f} "
        f"| {ms(quantile(latencies, 0.5))} | {ms(quantile(latencies, 0.99))} | {bad} |"
    )


async def measure(kind: str, ports: int, concurrency: int, seconds: float) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-api-"))
    chargers = -(-ports // CONNECTORS)
    async with database(kind, workdir) as url:
        key, port_uuids = await provision(url, "API-", chargers, CONNECTORS)
        server, port = await start_server(url, workdir / "server.log")
        groups = []
        try:
            groups = await start_chargers(
                f"ws://127.0.0.1:{port}/ocpp", "API-", chargers, CONNECTORS
            )
            expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}/1.2",
                headers={"x-api-key": key},
                timeout=60,
                limits=limits,
            ) as client:
                queue_ids: list[str] = []

                async def start(port_uuid: str) -> httpx.Response:
                    body = {"port_uuid": port_uuid, "expires": expires}
                    response = await client.post("/transactions", json=body)
                    if response.status_code == 201:
                        queue_ids.append(response.json()["queue_uuid"])
                    return response

                posts = await load(concurrency, iter(port_uuids[:ports]), start)
                deadline = time.monotonic() + seconds
                cycle = itertools.takewhile(
                    lambda _: time.monotonic() < deadline, itertools.cycle(queue_ids)
                )

                async def poll(queue_id: str) -> httpx.Response:
                    return await client.get(f"/queue/{queue_id}")

                gets = await load(concurrency, cycle, poll)
        finally:
            for group in groups:
                await group.quit()
            await stop_server(server)
    return [
        row("POST /1.2/transactions", kind, *posts),
        row("GET /1.2/queue/<id>", kind, *gets),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ports", type=int, default=2000, help="POST requests (one per port)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="GET window")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.ports, args.seconds = 100, 2.0
    rows = await measure("sqlite", args.ports, args.concurrency, args.seconds)
    notes = []
    if postgres_available():
        rows += await measure("postgresql", args.ports, args.concurrency, args.seconds)
    else:
        notes.append("PostgreSQL not measured: nothing listens on 127.0.0.1:5432.")
    text = "\n".join(
        [
            "### API requests (one node)",
            "",
            f"{args.concurrency} concurrent clients (httpx, keep-alive, in the benchmark's"
            " process). POST: one start per port, on OCPP 1.6 chargers from"
            " bench/js/sessions.mjs that accept it (so the start really goes out meanwhile);"
            f" GET: those queue items, round robin, for {args.seconds:g} s. Non-2xx must be 0.",
            "",
            "| request | database | requests | per second | p50 | p99 | non-2xx |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            *[f"- {note}" for note in notes],
        ]
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.md").write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
