"""API requests per second, latency and the server's CPU per request, on SQLite and PostgreSQL.

For each database: --ports ports on OCPP 1.6 chargers from bench/js/sessions.mjs (npm ocpp-rpc)
that accept every start. Then, at a fixed --concurrency:
- `POST /1.2/transactions`: one start per free port (a real start: the command goes out and
  the charger answers while later requests arrive);
- `GET /1.2/queue/<id>` on those queue items, repeated for --seconds.
The clients are bench/js/http_load.mjs, a node process of their own (node's `http`, keep-alive)
that costs little CPU per request; latency is measured there. The server's CPU time over each
phase (from /proc), divided by the requests answered, is the figure a loaded machine leaves
meaningful: the rates depend on what else the 2 cores are doing.

    .venv/bin/python bench/api.py [--ports 2000] [--concurrency 16] [--seconds 10] [--quick]
        [--database sqlite|postgresql] [--idempotency-keys]

--idempotency-keys: each start with an Idempotency-Key of its own, as bench/soak.py sends them
(the key is taken and answered in the start's transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    cpu_seconds,
    database,
    postgres_available,
    provision,
    publish,
    start_chargers,
    start_server,
    stop_server,
)

CONNECTORS = 2
LOAD = Path(__file__).with_name("js") / "http_load.mjs"


async def load(job: dict[str, Any], server_pid: int) -> dict[str, Any]:
    """Runs one job of bench/js/http_load.mjs; its answer plus the server's CPU seconds."""
    client = await asyncio.create_subprocess_exec(
        "node", str(LOAD), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    before = cpu_seconds(server_pid)
    out, _ = await client.communicate(json.dumps(job).encode())
    cpu = cpu_seconds(server_pid) - before
    if client.returncode != 0:
        raise RuntimeError(f"http_load.mjs failed with {client.returncode}")
    answer: dict[str, Any] = json.loads(out)
    answer["cpu"] = cpu
    return answer


def ms_or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def row(label: str, kind: str, answer: dict[str, Any]) -> str:
    count = answer["count"]
    return (
        f"| {label} | {kind} | {count} | {count / answer['elapsed']:.0f} "
        f"| {ms_or_dash(answer['p50'])} | {ms_or_dash(answer['p99'])} | {answer['non2xx']} "
        f"| {1000 * answer['cpu'] / max(count, 1):.2f} ms |"
    )


async def measure(
    kind: str, ports: int, concurrency: int, seconds: float, keyed: bool
) -> list[str]:
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
            base = {"base": f"http://127.0.0.1:{port}/1.2", "key": key, "concurrency": concurrency}
            starts = port_uuids[:ports]
            posts = await load(
                {
                    **base,
                    "method": "POST",
                    "paths": ["/transactions"] * len(starts),
                    "bodies": [{"port_uuid": p, "expires": expires} for p in starts],
                    "seconds": 0,
                    "keep": True,
                    "idempotency": keyed,
                },
                server.pid,
            )
            queue_ids = [answer["queue_uuid"] for answer in posts["kept"]]
            gets = await load(
                {
                    **base,
                    "method": "GET",
                    "paths": [f"/queue/{queue_id}" for queue_id in queue_ids],
                    "bodies": None,
                    "seconds": seconds,
                },
                server.pid,
            )
        finally:
            for group in groups:
                await group.quit()
            await stop_server(server)
    return [
        row("POST /1.2/transactions" + (" (Idempotency-Key)" if keyed else ""), kind, posts),
        row("GET /1.2/queue/<id>", kind, gets),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ports", type=int, default=2000, help="POST requests (one per port)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="GET window")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--idempotency-keys", action="store_true", help="a key on each start")
    args = parser.parse_args()
    if args.quick:
        args.ports, args.seconds = 100, 2.0
    rows: list[str] = []
    notes = []
    if args.database in (None, "sqlite"):
        rows += await measure(
            "sqlite", args.ports, args.concurrency, args.seconds, args.idempotency_keys
        )
    if args.database in (None, "postgresql"):
        if postgres_available():
            rows += await measure(
                "postgresql", args.ports, args.concurrency, args.seconds, args.idempotency_keys
            )
        else:
            notes.append("PostgreSQL not measured: nothing listens on 127.0.0.1:5432.")
    text = "\n".join(
        [
            "### API requests (one node)",
            "",
            f"{args.concurrency} concurrent clients (bench/js/http_load.mjs: node's `http`,"
            " keep-alive, in a process of their own; latency measured there). POST: one start"
            " per port, on OCPP 1.6 chargers from bench/js/sessions.mjs that accept it (so the"
            f" start really goes out meanwhile); GET: those queue items, round robin, for"
            f" {args.seconds:g} s. Non-2xx must be 0. Server CPU each: the server process's CPU"
            " time over the phase divided by the requests answered; on a shared machine the"
            " rates vary with the other load, the CPU per request much less.",
            "",
            "| request | database | requests | per second | p50 | p99 | non-2xx"
            " | server CPU each |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *[f"- {note}" for note in notes],
        ]
    )
    publish("api", text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
