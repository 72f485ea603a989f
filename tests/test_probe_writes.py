"""What the probe after boot finds is written only when it differs from what is stored: a
reconnecting charger tells the same, and its reconnect then costs the single writer nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from chargegate.domain.local_lists import Capabilities
from chargegate.server import create_app
from chargegate.services import charger_reports, local_lists
from chargegate.services.runtime import Runtime
from support import Server


@asynccontextmanager
async def node_of(server: Server) -> AsyncIterator[tuple[Runtime, list[Connection]]]:
    """A second node's services over the server's database, without its loops, and the commits
    this process makes meanwhile."""
    runtime: Runtime = create_app(server.settings).state.runtime
    commits: list[Connection] = []

    def committed(connection: Connection) -> None:
        commits.append(connection)

    event.listen(Engine, "commit", committed)
    try:
        yield runtime, commits
    finally:
        event.remove(Engine, "commit", committed)
        for sessions in (runtime.sessions, runtime.reads):
            await sessions.kw["bind"].dispose()


async def test_a_probe_that_finds_what_is_stored_writes_nothing(server: Server) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    cp = charger.charge_point_id
    async with node_of(server) as (rt, commits), operator.client() as client:
        await charger_reports.smart_charging_known(rt, cp, True, ["Core", "SmartCharging"])
        await local_lists.capabilities_known(rt, cp, Capabilities(False, 10, 100))
        assert len(commits) == 2
        body = (await client.get(f"/chargers/{cp}")).json()
        assert body["feature_profiles"] == ["Core", "SmartCharging"]
        listed = (await client.get(f"/chargers/{cp}/local-list")).json()
        assert listed["supported"] is False

        # The same answers at the next boot.
        commits.clear()
        await charger_reports.smart_charging_known(rt, cp, True, ["Core", "SmartCharging"])
        await local_lists.capabilities_known(rt, cp, Capabilities(False, 10, 100))
        assert commits == []

        # Other answers are written.
        await charger_reports.smart_charging_known(rt, cp, False, ["Core"])
        await local_lists.capabilities_known(rt, cp, Capabilities(False, 5, 100))
        assert len(commits) == 2
        assert (await client.get(f"/chargers/{cp}")).json()["feature_profiles"] == ["Core"]
