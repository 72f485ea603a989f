"""The site balancer on two real nodes (one PostgreSQL database, one Redis broker), with the
site's chargers split across them: the site limit holds (every charger's applied limit
sampled), one node balances the site, and when that node is killed (SIGKILL) the other takes
the site over once its lease has run out and keeps balancing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from chargegate.sim.charger import SimulatedCharger
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Site
from support import MANY_STARTS_ENV, Charger, Server, eventually, iso, poll_queue, start_session
from test_multinode import REDIS_URL, Cluster, client_for, cluster, needs_redis
from test_site_balancer import Sampler, settled
from test_site_balancer_strict import probed
from test_sites import make

pytestmark = [pytest.mark.postgres_only, needs_redis]

LIMIT = 24.0
# A short lease, so that the take-over comes within seconds of the kill; still long enough
# that a node renews it in time on a loaded machine (half-way, from passes a third of it apart).
NODE_ENV = {**MANY_STARTS_ENV, "CHARGEGATE_SITE_LEASE_S": "3"}


async def smart_charger_on(nodes: Cluster, server: Server, charger: Charger) -> SimulatedCharger:
    sim = SimulatedCharger(
        url=server.ws_url, charge_point_id=charger.charge_point_id, smart_charging=True
    )
    nodes.chargers.append(sim)
    sim.start()
    await sim.wait_until(lambda: sim.online)
    # Known to take profiles: a start now carries the site's 0 A until balanced.
    await probed(server, charger.charge_point_id)
    return sim


async def test_a_site_split_across_two_nodes_is_taken_over_when_its_node_dies(
    tmp_path: Path,
) -> None:
    nodes = await cluster(tmp_path, REDIS_URL, extra_env=NODE_ENV)
    engine = create_engine(nodes.a.database_url)
    sampling: asyncio.Task[None] | None = None
    try:
        operator = await nodes.a.operator()
        chargers = [await operator.add_charger() for _ in range(4)]
        homes = [nodes.a, nodes.a, nodes.b, nodes.b]
        sims = [
            await smart_charger_on(nodes, home, charger)
            for charger, home in zip(chargers, homes, strict=True)
        ]
        by_cp = {c.charge_point_id: sim for c, sim in zip(chargers, sims, strict=True)}
        sampler = Sampler(sims, LIMIT)
        sampling = asyncio.create_task(sampler.run())

        async def holder() -> str | None:
            async with session_factory(engine)() as session:
                node = await session.scalar(
                    select(Site.balancer_node).where(Site.site_uuid == site["site_uuid"])
                )
                return node

        async with client_for(nodes.a, operator) as on_a, client_for(nodes.b, operator) as on_b:
            site = await make(
                on_a, max_current_a=LIMIT, chargers=[c.charge_point_id for c in chargers]
            )
            path = f"/sites/{site['site_uuid']}"
            # A session on each node, each started through the other node.
            for client, charger in ((on_b, chargers[0]), (on_a, chargers[2])):
                created = await start_session(client, charger.port, iso(3600))
                await poll_queue(client, created["queue_uuid"], timeout=60)
            await settled(on_a, path, by_cp)
            shares = (await on_a.get(path)).json()["sessions"]
            assert sorted(s["allocated_a"] for s in shares) == [LIMIT / 2, LIMIT / 2], shares

            first = await holder()
            assert first in ("node-a", "node-b"), first
            assert all(sims[i].applied_limit(1) == LIMIT / 2 for i in (0, 2))
            dead, survivor = (nodes.a, nodes.b) if first == "node-a" else (nodes.b, nodes.a)
            survivor_id = "node-b" if first == "node-a" else "node-a"
            on_survivor = on_b if survivor is nodes.b else on_a
            # Whatever node answers, the site shows the same one balancer.
            assert (await holder()) == first

            for sim, home in zip(sims, homes, strict=True):
                if home is dead:
                    sim.url = survivor.ws_url  # the load balancer sends it to the survivor
            dead.kill()

            async def taken_over() -> bool:
                return await holder() == survivor_id

            await eventually(taken_over, timeout=60)
            for sim in sims:
                await sim.wait_until(lambda sim=sim: sim.online, timeout=30)

            # A start on the site after the takeover gets its share: three sessions of 8 A.
            idle = chargers[1] if first == "node-a" else chargers[3]
            created = await start_session(on_survivor, idle.port, iso(3600))
            await poll_queue(on_survivor, created["queue_uuid"], timeout=60)

            async def thirds() -> bool:
                shares = (await on_survivor.get(path)).json()["sessions"]
                return sorted(s["allocated_a"] for s in shares) == [LIMIT / 3] * 3

            await eventually(thirds, timeout=60)
            await settled(on_survivor, path, by_cp)
            assert by_cp[idle.charge_point_id].applied_limit(1) == LIMIT / 3
        assert sampler.samples > 100
        assert sampler.worst is None, sampler.worst
    finally:
        if sampling is not None:
            sampling.cancel()
        await engine.dispose()
        await nodes.stop()
