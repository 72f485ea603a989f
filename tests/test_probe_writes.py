"""What the probe after boot finds is written only when it differs from what is stored: a
reconnecting charger tells the same, and its reconnect then costs the single writer nothing. What
a reconnect reads to tell so is read for many chargers at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from chargegate.domain.local_lists import Capabilities
from chargegate.domain.times import utcnow
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


async def test_what_reconnecting_chargers_read_is_read_for_all_at_once(server: Server) -> None:
    operator = await server.operator()
    chargers = [await operator.add_charger(connectors=2) for _ in range(6)]
    unknown = "NO-SUCH-CHARGER"
    async with node_of(server) as (rt, _):
        for charger in chargers[:3]:
            await charger_reports.status_changed(
                rt, charger.charge_point_id, 1, "Faulted", "GroundFailure", utcnow()
            )
            await local_lists.capabilities_known(rt, charger.charge_point_id, Capabilities(False))
        # What each charger of a storm asks after its boot: its ports' stored statuses (the
        # first StatusNotifications) and whether its list state is what it says (the probe).
        reads: list[str] = []

        def read(_: Connection, __: Any, statement: str, *args: Any) -> None:
            reads.append(statement)

        # Every engine of this process: the lookups' own is not the reads' on PostgreSQL.
        event.listen(Engine, "before_cursor_execute", read)
        try:
            ports = [(c.charge_point_id, n) for c in chargers for n in (1, 2)] + [(unknown, 1)]
            statuses = await asyncio.gather(*(rt.node.lookups.port_status(*p) for p in ports))
            found = await asyncio.gather(
                *(rt.node.lookups.charger(c.charge_point_id) for c in [*chargers, *chargers])
            )
            ids = [charger.id for charger in found if charger is not None]
            lists = await asyncio.gather(*(rt.node.lookups.local_list(i) for i in ids))
        finally:
            event.remove(Engine, "before_cursor_execute", read)
        faulted = ("Faulted", "GroundFailure")
        assert statuses == [faulted, (None, None)] * 3 + [(None, None)] * 6 + [None]
        assert len(ids) == 12
        assert [state is not None for state in lists] == ([True] * 3 + [False] * 3) * 2
        # One statement for each kind, however many chargers asked.
        assert len(reads) == 3, reads
