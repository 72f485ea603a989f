"""The site balancer's reaction time: from POST /1.2/transactions on a full site to every
charger of the site applying its new TxProfile (lowerings answered first, then the raises).
One node, SQLite, simulated chargers (one port each, taking profiles) in this process.

    .venv/bin/python bench/balancer.py [--chargers 200] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import provision, start_server, stop_server

from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade

RESULTS = Path(__file__).with_name("results")
# 8 A each when every charger charges: one more start moves most allocations by 0.1 A.
AMPS_PER_CHARGER = 8


def applied(sim: SimulatedCharger) -> float:
    if sim.started_at(1) is None:
        return 0.0
    limit = sim.applied_limit(1)
    return sim.max_current_a if limit is None else limit


def cpu_s(pid: int) -> float:
    """The server's CPU time so far (user and system): a figure a loaded machine disturbs far
    less than wall-clock time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_applied(
    client: httpx.AsyncClient, site: str, sims: dict[str, SimulatedCharger], timeout: float
) -> None:
    """Until every session's charger applies what the site shows for it (the target is read
    once: it is fixed once the start is open)."""
    shown = (await client.get(f"/sites/{site}")).json()["sessions"]
    target = {s["charge_point_id"]: s["allocated_a"] for s in shown}
    deadline = time.monotonic() + timeout
    while any(abs(applied(sims[cp]) - amps) > 1e-6 for cp, amps in target.items()):
        if time.monotonic() > deadline:
            raise TimeoutError("the site did not settle")
        await asyncio.sleep(0.002)


async def open_session(client: httpx.AsyncClient, port_uuid: str, expires: str) -> str:
    created = await client.post("/transactions", json={"port_uuid": port_uuid, "expires": expires})
    created.raise_for_status()
    queue = created.json()["queue_uuid"]
    while (await client.get(f"/queue/{queue}")).json().get("state") != "Open":  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    return str(created.json()["transaction_uuid"])


async def closed(client: httpx.AsyncClient, transaction_uuid: str) -> None:
    while True:
        shown = (await client.get(f"/transactions/{transaction_uuid}")).json()
        if shown["state"].lower() == "closed":
            return
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chargers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, rounds = (20, 2) if args.quick else (args.chargers, args.rounds)
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-balancer-"))
    url = f"sqlite+aiosqlite:///{workdir}/cg.db"
    await upgrade(url)
    key, ports = await provision(url, "SITE-", count, 1)
    server, port = await start_server(url, workdir / "server.log")
    sims = {
        f"SITE-{n}": SimulatedCharger(
            url=f"ws://127.0.0.1:{port}/ocpp",
            charge_point_id=f"SITE-{n}",
            smart_charging=True,
            meter_interval_s=3600,
        )
        for n in range(count)
    }
    reactions: list[float] = []
    cpu: list[float] = []
    try:
        for sim in sims.values():
            sim.start()
        for sim in sims.values():
            await sim.wait_until(lambda sim=sim: sim.online, timeout=60)
        for sim in sims.values():
            await sim.wait_until(
                lambda sim=sim: sim.count("GetConfiguration") + sim.count("GetVariables") > 0
            )
        await asyncio.sleep(1)  # the probes' answers are recorded
        expires = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/1.2", headers={"x-api-key": key}, timeout=60
        ) as client:
            # The sessions first, then the site: one rebalancing of them all (starting each
            # under the site would rebalance every session at each start).
            for port_uuid in ports[:-1]:
                await open_session(client, port_uuid, expires)
            made = await client.post(
                "/sites",
                json={
                    "name": "bench",
                    "phases": 3,
                    "max_current_a": AMPS_PER_CHARGER * count,
                    "chargers": list(sims),
                },
            )
            made.raise_for_status()
            site = made.json()["site_uuid"]
            print(f"{count - 1} sessions charging; site made", flush=True)
            await wait_applied(client, site, sims, 120)
            print("charging; measuring", flush=True)
            last = ports[-1]
            for _ in range(rounds):
                began, began_cpu = time.perf_counter(), cpu_s(server.pid)
                started = await open_session(client, last, expires)
                await wait_applied(client, site, sims, 60)
                reactions.append(time.perf_counter() - began)
                cpu.append(cpu_s(server.pid) - began_cpu)
                print(f"{reactions[-1]:.2f} s, server CPU {cpu[-1]:.2f} s", flush=True)
                stopped = await client.patch(f"/transactions/{started}", json={"state": "closed"})
                stopped.raise_for_status()
                await closed(client, started)
                await wait_applied(client, site, sims, 60)
    finally:
        for sim in sims.values():
            await sim.power_off()
        await stop_server(server)
    text = (
        "### Site balancer reaction (one node, SQLite)\n\n"
        f"A site of {count} chargers (one port each, all taking profiles) and a limit of "
        f"{AMPS_PER_CHARGER} A per charger, {count - 1} sessions charging; then a start on the "
        "last port. Measured: from POST /1.2/transactions until every charger of the site "
        "applies its new TxProfile (the lowerings answered before the raises go out), "
        f"{len(reactions)} rounds.\n\n"
        "| start to new profiles at every charger | median | worst | server CPU (median) |\n"
        "|---|---|---|---|\n"
        f"| {count} chargers | {statistics.median(reactions) * 1000:.0f} ms | "
        f"{max(reactions) * 1000:.0f} ms | {statistics.median(cpu) * 1000:.0f} ms |\n"
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "balancer.md").write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
