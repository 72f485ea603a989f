"""The server's CPU per authenticated API request: what one app (or one hostile operator at its
rate limit) costs everyone else on the node's event loop. Four requests with a valid key, each
sent by 4 clients in this process for a few seconds, the server's CPU time read from /proc:
a transaction that does not exist (404), a queue item that does not exist (404), the port list,
and any request over the key's rate limit (429).

    .venv/bin/python bench/request_cost.py [--database sqlite|postgresql] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from common import (
    cpu_seconds,
    database,
    postgres_available,
    provision,
    publish,
    start_server,
    stop_server,
)

CLIENTS = 4
REQUESTS: list[tuple[str, Callable[[], str]]] = [
    ("GET /1.2/transactions/<unknown>", lambda: f"/transactions/{uuid.uuid4()}"),
    ("GET /1.2/queue/<unknown>", lambda: f"/queue/{uuid.uuid4()}"),
    ("GET /1.2/ports (40 ports)", lambda: "/ports"),
]
# The key's limit for the 429 row: spent within the warm-up, then every request is over it.
LIMITED = {"CHARGEGATE_API_RATE_PER_S": "1", "CHARGEGATE_API_BURST": "1"}


async def hammer(
    port: int, key: str, path: Callable[[], str], seconds: float
) -> tuple[int, Counter[int]]:
    statuses: Counter[int] = Counter()
    base = f"http://127.0.0.1:{port}/1.2"
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": key}) as client:
        end = time.monotonic() + seconds

        async def one() -> None:
            while time.monotonic() < end:
                statuses[(await client.get(path())).status_code] += 1

        await asyncio.gather(*(one() for _ in range(CLIENTS)))
    return sum(statuses.values()), statuses


async def measured(
    url: str,
    workdir: Path,
    env: dict[str, str],
    rows: list[tuple[str, Callable[[], str]]],
    seconds: float,
) -> list[str]:
    key, _ = await provision(url, f"RC{uuid.uuid4().hex[:4]}", 20, 2)
    server, port = await start_server(url, workdir / "server.log", env)
    lines = []
    try:
        for name, path in rows:
            await hammer(port, key, path, 1.0)
            cpu_before, began = cpu_seconds(server.pid), time.monotonic()
            count, statuses = await hammer(port, key, path, seconds)
            cpu = cpu_seconds(server.pid) - cpu_before
            elapsed = time.monotonic() - began
            answers = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
            lines.append(
                f"| {name} | {count / elapsed:.0f} | {1000 * cpu / count:.2f} ms | {answers} |"
            )
    finally:
        await stop_server(server)
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.database == "postgresql" and not postgres_available():
        raise SystemExit("PostgreSQL is not reachable")
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-request-cost-"))
    async with database(args.database, workdir) as url:
        lines = await measured(url, workdir, {}, REQUESTS, args.seconds)
        over = [("any request over the key's rate limit (429)", REQUESTS[0][1])]
        lines += await measured(url, workdir, LIMITED, over, args.seconds)
    text = "\n".join(
        [
            f"### Server CPU per API request (one node, {args.database})",
            "",
            f"{CLIENTS} clients with one valid key, {args.seconds:g} s per row; the server's CPU "
            "time (all its threads) over the requests answered.",
            "",
            "| request | per second | server CPU each | answers |",
            "|---|---|---|---|",
            *lines,
            "",
        ]
    )
    publish("request_cost", text)


if __name__ == "__main__":
    asyncio.run(main())
