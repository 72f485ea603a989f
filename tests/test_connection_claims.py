"""Connection epochs claimed together (a reconnect storm) are written in one transaction, and
each charger's claims still count on in the order they came."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from chargegate.bus.local import LocalBus
from chargegate.domain.times import utcnow
from chargegate.services.report_writes import Claim, Release, ReportWrites
from chargegate.store import chargers as charger_store
from chargegate.store.database import create_engine, session_factory
from support import Server, eventually, holding_the_writer, raw_charger


async def test_claims_arriving_together_are_one_commit_and_count_on_per_charger(
    server: Server,
) -> None:
    operator = await server.operator()
    first, second = await operator.add_charger(), await operator.add_charger()
    engine = create_engine(server.database_url)
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    writes = ReportWrites(session_factory(engine), LocalBus())
    try:
        ids = [second.charge_point_id, first.charge_point_id, second.charge_point_id, "NO-SUCH"]
        claims = [Claim(cp, "node-a", "ocpp1.6", utcnow()) for cp in ids]
        await asyncio.gather(*(writes.claims.add(claim) for claim in claims))
        assert len(commits) == 1
        assert all(claim.epoch is not None for claim in claims[:3])
        assert claims[3].epoch is None  # not registered: no epoch, and no failure for the rest
        # The later connection of the same charger holds the newer epoch.
        assert claims[2].epoch == claims[0].epoch + 1  # type: ignore[operator]
    finally:
        await engine.dispose()


async def test_releases_together_are_one_commit_and_spare_newer_connections(
    server: Server,
) -> None:
    """Disconnects are written together; each clears only its own connection, so an older
    connection's disconnect, written after a newer connection's claim (of this node or
    another), leaves the charger online."""
    operator = await server.operator()
    first, second = await operator.add_charger(), await operator.add_charger()
    engine = create_engine(server.database_url)
    sessions = session_factory(engine)
    writes = ReportWrites(sessions, LocalBus())
    try:
        old, new, other = (
            Claim(first.charge_point_id, "node-a", "ocpp1.6", utcnow()),
            Claim(first.charge_point_id, "node-b", "ocpp1.6", utcnow()),
            Claim(second.charge_point_id, "node-a", "ocpp1.6", utcnow()),
        )
        for claim in (old, new, other):
            await writes.claims.add(claim)
        assert old.epoch is not None and new.epoch is not None and other.epoch is not None
        commits: list[object] = []
        event.listen(engine.sync_engine, "commit", commits.append)
        writes.releases.put(Release(first.charge_point_id, old.epoch, utcnow()))
        writes.releases.put(Release(second.charge_point_id, other.epoch, utcnow()))
        await writes.releases.flush()
        assert len(commits) == 1
        async with sessions() as session:
            found = await charger_store.chargers_by_id(
                session, {first.charge_point_id, second.charge_point_id}
            )
        assert found[first.charge_point_id].connected_node == "node-b"
        assert found[second.charge_point_id].connected_node is None
    finally:
        await engine.dispose()


async def test_a_disconnect_does_not_wait_for_its_write(server: Server) -> None:
    """The socket's handler ends while the writer is held (on SQLite it would otherwise wait
    its busy timeout), and the charger is shown offline once the writer is free."""
    operator = await server.operator()
    async with raw_charger(operator, "ocpp1.6") as (raw, charger), operator.client() as client:
        path = f"/chargers/{charger.charge_point_id}"
        assert (await client.get(path)).json()["online"] is True
        async with holding_the_writer(server, charger.charge_point_id):
            await raw.ws.close()

            async def handled() -> bool:
                return any(
                    "charger disconnected" in line and charger.charge_point_id in line
                    for line in server.log().splitlines()
                )

            await eventually(handled, timeout=10)
            assert (await client.get(path)).json()["online"] is True

        async def offline() -> bool:
            return (await client.get(path)).json()["online"] is False

        await eventually(offline)
