"""Expiry precision at scale: many open transactions expiring in the same second.

Opens --count sessions through the API on OCPP 1.6 chargers from bench/js/sessions.mjs (npm
ocpp-rpc, two connectors each, like most real ones; --per-process chargers per node process),
moves all their expiries to one second T with PATCH, and takes the wall-clock arrival of every
RemoteStopTransaction at its charger: delay after T (p50/p99/max), sessions never stopped
(missed) and stopped twice (doubled). OCPP allows one outstanding CALL per connection, so many
connectors on one charger would measure that charger's round trips, not the scheduler.

    .venv/bin/python bench/expiry.py [--count 10000] [--database sqlite postgresql] [--quick]

By default it runs on SQLite, then on PostgreSQL, and reports a row for each.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import (
    Chargers,
    bounded,
    database,
    ms,
    provision,
    publish,
    quantile,
    start_chargers,
    start_server,
    stop_server,
)

CONNECTORS = 2
API_TIME = "%Y-%m-%dT%H:%M:%S+0000"


async def open_count(groups: list[Chargers]) -> int:
    return sum([(await g.report())["open"] for g in groups])


async def run(count: int, kind: str, per_process: int) -> str:
    chargers = -(-count // CONNECTORS)
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-expiry-"))
    async with database(kind, workdir) as url:
        key, ports = await provision(url, "EXP-", chargers, CONNECTORS)
        server, port = await start_server(
            url, workdir / "server.log", {"CHARGEGATE_START_TIMEOUT_S": "900"}
        )
        groups: list[Chargers] = []
        began = time.monotonic()
        try:
            ws = f"ws://127.0.0.1:{port}/ocpp"
            groups = await start_chargers(ws, "EXP-", chargers, CONNECTORS, per_process)
            far = (datetime.now(UTC) + timedelta(hours=1)).strftime(API_TIME)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}/1.2", headers={"x-api-key": key}, timeout=120
            ) as client:
                starts = [{"port_uuid": p, "expires": far} for p in ports[:count]]
                created = await bounded(16, [client.post("/transactions", json=s) for s in starts])
                uuids = [response.json()["transaction_uuid"] for response in created]
                for _ in range(1800):  # bounded wait for every session to open, 0.5 s a step
                    if await open_count(groups) >= count:
                        break
                    await asyncio.sleep(0.5)
                setup = time.monotonic() - began
                # One common expiry second, far enough ahead for every PATCH to land first.
                target = datetime.now(UTC).replace(microsecond=0)
                target += timedelta(seconds=30 + count // 40)
                body = {"expires": target.strftime(API_TIME)}
                patched = await bounded(
                    16, [client.patch(f"/transactions/{u}", json=body) for u in uuids]
                )
                late = datetime.now(UTC) >= target
                print(
                    f"{count} sessions open after {setup:.0f} s; all expire at {target:%H:%M:%S}",
                    flush=True,
                )
                # Bounded wait for the stops, counted from the expiry second (the PATCHes may
                # have taken anything from seconds to minutes).
                deadline = target + timedelta(seconds=120 + count // 50)
                while datetime.now(UTC) < deadline:
                    if datetime.now(UTC) > target and await open_count(groups) == 0:
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)  # room for a doubled stop to show up
                stops: dict[str, list[int]] = {}
                for group in groups:
                    stops.update((await group.report())["stops"])
        finally:
            for group in groups:
                await group.quit()
            await stop_server(server)
    delays = [times[0] / 1000 - target.timestamp() for times in stops.values()]
    doubled = sum(len(times) > 1 for times in stops.values())
    missed = count - len(delays)
    failed_patches = sum(response.status_code != 204 for response in patched)
    text = (
        f"| {count} | {kind} | {setup:.0f} s | {ms(quantile(delays, 0.5)) if delays else '-'} "
        f"| {ms(quantile(delays, 0.99)) if delays else '-'} | {ms(max(delays, default=None))} "
        f"| {missed} | {doubled} |"
    )
    if failed_patches or late:
        text += f" (warning: {failed_patches} PATCHes failed; PATCHes late: {late})"
    return text


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--database",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="the databases to run on, one after the other",
    )
    parser.add_argument("--per-process", type=int, default=2500, help="chargers per node process")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 200 if args.quick else args.count
    rows = [await run(count, kind, args.per_process) for kind in args.database]
    text = (
        "### Expiry precision at scale (one node)\n\n"
        f"Open transactions on OCPP 1.6 chargers from bench/js/sessions.mjs (npm ocpp-rpc,"
        f" {CONNECTORS} connectors each), all expiring at the same second; delay from expires to"
        " RemoteStopTransaction arriving at the charger. Target: p99 under 1 s at 10,000, none"
        " missed, none doubled.\n\n"
        "| expiring together | database | set-up | p50 delay | p99 delay | max delay | missed "
        "| doubled |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    publish("expiry", text)


if __name__ == "__main__":
    asyncio.run(main())
