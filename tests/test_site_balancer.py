"""The site balancer with simulated chargers that apply the TxProfiles they get (both
versions): sampling every charger's applied limit, a site's limit is never exceeded across
random starts, stops, disconnects and limit changes, and once settled no session is starved
while another has more than an equal share.

CHARGEGATE_BALANCER_STEPS sets the number of random steps per version: by default 250, the
issue's 500 in all across the two versions; 50 in the PostgreSQL pass, which runs the same
balancer over its own database paths (250 there took longer than the rest of that pass)."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.domain.times import utcnow
from chargegate.sim.charger import SimulatedCharger
from chargegate.store import operators as operator_store
from chargegate.store import sites as site_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade
from chargegate.store.models import Site
from support import (
    MANY_STARTS_ENV,
    POSTGRES_URL,
    Operator,
    Server,
    Simulators,
    expire_in,
    online,
    open_session,
    stop_session,
)
from test_offline_and_fail_safe import wait_for_probe
from test_sites import make
from test_webhooks import Receiver, hooked_server, until

SHARED_SERVER_ENV = MANY_STARTS_ENV
STEPS = int(os.environ.get("CHARGEGATE_BALANCER_STEPS", "250" if POSTGRES_URL is None else "50"))
CHARGERS = 6
MIN_A = 6.0


def draw(sim: SimulatedCharger) -> float:
    """What the charger may draw now: its applied limit while a transaction runs."""
    if sim.started_at(1) is None:
        return 0.0
    limit = sim.applied_limit(1)
    return sim.max_current_a if limit is None else min(limit, sim.max_current_a)


async def reaches(sim: SimulatedCharger, status: str) -> None:
    """Wait until the charger's port shows `status`: Charging once the server has answered its
    start, Available once it has answered its stop."""
    await sim.wait_until(lambda: sim.connectors[1].status == status)


class Sampler:
    """Sums every charger's draw every few milliseconds against the limit in force."""

    def __init__(self, sims: list[SimulatedCharger], bound: float) -> None:
        self.sims, self.bound, self.samples = sims, bound, 0
        self.worst: tuple[float, float] | None = None

    def total(self) -> float:
        return sum(draw(sim) for sim in self.sims)

    async def run(self) -> None:
        while True:
            total = self.total()
            self.samples += 1
            if total > self.bound + 1e-6 and self.worst is None:
                self.worst = (total, self.bound)
            await asyncio.sleep(0.005)


async def settled(
    client: httpx.AsyncClient, path: str, sims: dict[str, SimulatedCharger]
) -> dict[str, Any]:
    """Wait until every online charger applies what the site shows for its session; returns
    what the site showed then. The site is read again as soon as a charger's draw changes
    (the balancer reacts within milliseconds, and hundreds of steps wait for it), and at least
    every 50 ms for what changes on the server only (a lowering's answer recorded)."""
    deadline = time.monotonic() + 60
    while True:
        shown: dict[str, Any] = (await client.get(path)).json()
        if all(
            not sims[share["charge_point_id"]].online
            or abs(draw(sims[share["charge_point_id"]]) - share["allocated_a"]) <= 1e-6
            for share in shown["sessions"]
        ):
            return shown
        assert time.monotonic() < deadline, f"the site did not settle: {shown}"
        drawn = [draw(sim) for sim in sims.values()]
        for _ in range(10):
            await asyncio.sleep(0.005)
            if [draw(sim) for sim in sims.values()] != drawn:
                break


def check_fair(shares: list[dict[str, Any]], limit: float) -> None:
    """One circuit, equal ports: admitted sessions within 0.1 A of each other, and a session
    waits only if the minimums of those admitted leave no room for its own."""
    given = [s["allocated_a"] for s in shares if not s["waiting"]]
    if given:
        assert max(given) - min(given) <= 0.1 + 1e-6, shares
        assert min(given) >= MIN_A or not [s for s in shares if s["waiting"]], shares
    if any(s["waiting"] for s in shares):
        assert (len(given) + 1) * MIN_A > limit, (shares, limit)


# 250 steps took 160 s on SQLite and 280-360 s on PostgreSQL on a 2-core machine shared by a
# dozen loaded processes (load average 22-30).
@pytest.mark.timeout(600)
async def test_site_limit_holds_across_random_changes(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    rng = random.Random(17)
    chargers = [await op.add_charger() for _ in range(CHARGERS)]
    sims: dict[str, SimulatedCharger] = {}
    for charger in chargers:
        sim = await online(simulators, shared_server, charger, smart_charging=True)
        await wait_for_probe(sim)
        sims[charger.charge_point_id] = sim
    limit = 30.0
    sampler = Sampler(list(sims.values()), limit)
    sampling = asyncio.create_task(sampler.run())
    running: dict[str, str] = {}  # charge point id -> transaction uuid
    waited = shared = 0  # steps after which a session waited / sessions shared the limit
    async with op.client() as client:
        site = await make(
            client, max_current_a=limit, chargers=[c.charge_point_id for c in chargers]
        )
        path = f"/sites/{site['site_uuid']}"
        try:
            for _ in range(STEPS):
                idle = [c for c in chargers if c.charge_point_id not in running]
                live = [c for c in chargers if c.charge_point_id in running]
                choice = rng.choice(["start"] * 4 + ["stop"] * 2 + ["disconnect", "limit"])
                if choice == "start" and idle:
                    charger = rng.choice(idle)
                    sim = sims[charger.charge_point_id]
                    if sim.online:
                        created = await open_session(
                            client, charger.port, reached=lambda sim=sim: reaches(sim, "Charging")
                        )
                        running[charger.charge_point_id] = created["transaction_uuid"]
                elif choice == "stop" and live:
                    charger = rng.choice(live)
                    sim = sims[charger.charge_point_id]
                    if not sim.online:
                        sim.start()
                        await sim.wait_until(lambda sim=sim: sim.online)
                    await stop_session(
                        client,
                        running.pop(charger.charge_point_id),
                        lambda sim=sim: reaches(sim, "Available"),
                    )
                elif choice == "disconnect" and live:
                    # Offline for a while: its allocation stays counted; then it comes back.
                    sim = sims[rng.choice(live).charge_point_id]
                    if sim.online:
                        await sim.stop()
                        await asyncio.sleep(0)
                        sim.start()
                        await sim.wait_until(lambda sim=sim: sim.online)
                elif choice == "limit":
                    new = float(rng.choice([12, 18, 24, 30, 40, 50]))
                    # The bound in force is the higher one until the site has settled.
                    sampler.bound = max(limit, new)
                    patched = await client.patch(path, json={"max_current_a": new})
                    assert patched.status_code == 200, patched.text
                    limit = new
                shown = await settled(client, path, sims)
                sampler.bound = limit
                check_fair(shown["sessions"], limit)
                waited += any(s["waiting"] for s in shown["sessions"])
                shared += sum(not s["waiting"] for s in shown["sessions"]) > 1
                assert sampler.total() <= limit + 1e-6
        finally:
            sampling.cancel()
    assert sampler.samples > STEPS, sampler.samples
    # The run reached both regimes: sessions sharing the limit, and sessions waiting for room.
    assert waited and shared, (waited, shared)
    assert sampler.worst is None, f"drew {sampler.worst[0]} A over a limit of {sampler.worst[1]} A"


async def test_decisions_go_out_as_webhooks(tmp_path: Path, simulators: Simulators) -> None:
    receiver = Receiver()
    await receiver.start()
    server = await hooked_server(tmp_path)
    key = await provisioning.create_api_key(server.settings, "sited")
    await provisioning.add_webhook(server.settings, "sited", receiver.url)
    server.start()
    try:
        operator = Operator(server=server, name="sited", key=key)
        chargers = [await operator.add_charger() for _ in range(2)]
        for charger in chargers:
            await wait_for_probe(await online(simulators, server, charger, smart_charging=True))

        def shares() -> dict[str, float] | None:
            """The allocations of the newest site.allocation event."""
            for event in reversed(receiver.events()):
                if event["type"] == "site.allocation":
                    allocations = event["data"]["allocations"]
                    return {a["transaction_uuid"]: a["allocated_a"] for a in allocations}
            return None

        async with operator.client() as client:
            site = await make(
                client, max_current_a=20, chargers=[c.charge_point_id for c in chargers]
            )
            first = await open_session(client, chargers[0].port)
            alone = {first["transaction_uuid"]: 20.0}
            await until(lambda: shares() == alone, timeout=30)
            second = await open_session(client, chargers[1].port)
            both = {first["transaction_uuid"]: 10.0, second["transaction_uuid"]: 10.0}
            await until(lambda: shares() == both, timeout=30)
        sites = {
            e["data"]["site_uuid"] for e in receiver.events() if e["type"] == "site.allocation"
        }
        assert sites == {site["site_uuid"]}
        # The dashboard's site panel draws the same decisions over time; only for their operator.
        other = await provisioning.create_api_key(server.settings, "not-sited")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as plain:
            panel = await plain.get("/dashboard/api/sites", headers={"x-api-key": key})
            assert panel.status_code == 200, panel.text
            [shown] = panel.json()
            assert shown["site_uuid"] == site["site_uuid"] and shown["max_current_a"] == 20
            totals = [(p["total_a"], p["sessions"], p["waiting"]) for p in shown["allocations"]]
            assert totals[0] == (20.0, 1, 0) and totals[-1] == (20.0, 2, 0), totals
            theirs = await plain.get("/dashboard/api/sites", headers={"x-api-key": other})
            assert theirs.json() == []
    finally:
        server.stop()
        await receiver.stop()


async def test_one_node_balances_a_site_at_a_time(tmp_path: Path) -> None:
    lease = timedelta(seconds=Settings().site_lease_s)
    url = f"sqlite+aiosqlite:///{tmp_path}/lease.db"
    await upgrade(url)
    await provisioning.create_api_key(Settings(database_url=url), "leased")
    engine = create_engine(url)
    now = utcnow()
    try:
        async with session_factory(engine)() as session, session.begin():
            operator = await operator_store.get_or_create_operator(session, "leased", now)
            session.add(
                Site(
                    site_uuid=str(uuid.uuid4()),
                    operator_id=operator.id,
                    name="S",
                    max_current_a=10,
                    phases=3,
                    voltage=230,
                    created_at=now,
                )
            )

        async def claim(node: str, at: datetime) -> list[int]:
            async with session_factory(engine)() as session, session.begin():
                held = await site_store.claim_roots(session, node, at, at + lease)
                return [site.id for site in held]

        assert len(await claim("a", now)) == 1
        assert await claim("b", now + lease / 2) == []  # a holds it
        assert len(await claim("a", now + lease / 2)) == 1  # a renews
        assert await claim("b", now + lease) == []  # renewed: still a's
        later = now + lease * 2
        assert len(await claim("b", later)) == 1  # a stopped renewing: b takes over
        assert await claim("a", later) == []
    finally:
        await engine.dispose()


def last_zero_at(request: dict[str, Any]) -> int:
    """When the TxProfile's schedule goes to 0 A, in seconds from its start (either version)."""
    profile = request.get("csChargingProfiles") or request["chargingProfile"]
    schedule = profile["chargingSchedule"]
    periods = (schedule[0] if isinstance(schedule, list) else schedule)["chargingSchedulePeriod"]
    assert periods[-1]["limit"] == 0, periods
    return int(periods[-1]["startPeriod"])


async def test_an_extended_session_gets_its_profile_to_the_new_expiry(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger, smart_charging=True)
    await wait_for_probe(sim)
    async with op.client() as client:
        await make(client, max_current_a=20, chargers=[charger.charge_point_id])
        created = await open_session(client, charger.port, expires=600)
        await sim.wait_until(lambda: draw(sim) == 20)
        [first] = sim.requests("SetChargingProfile")
        assert 500 < last_zero_at(first) <= 600
        await expire_in(client, created["transaction_uuid"], 3600)
        await sim.wait_until(lambda: len(sim.requests("SetChargingProfile")) > 1)
        assert 3500 < last_zero_at(sim.requests("SetChargingProfile")[-1]) <= 3600
        assert draw(sim) == 20
