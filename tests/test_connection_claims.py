"""Connection epochs claimed together (a reconnect storm) are written in one transaction, and
each charger's claims still count on in the order they came."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from chargegate.domain.times import utcnow
from chargegate.services.report_writes import Claim, ReportWrites
from chargegate.store.database import create_engine, session_factory
from support import Server


async def test_claims_arriving_together_are_one_commit_and_count_on_per_charger(
    server: Server,
) -> None:
    operator = await server.operator()
    first, second = await operator.add_charger(), await operator.add_charger()
    engine = create_engine(server.database_url)
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    writes = ReportWrites(session_factory(engine))
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
