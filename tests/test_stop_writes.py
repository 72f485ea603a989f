"""Stop reports written together (services.stop_writes): one that cannot be stored fails only
its own charger, and the others in its batch are stored all the same."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from chargegate.bus.local import LocalBus
from chargegate.domain.reports import StopReport
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services.group_commit import DeadLetter
from chargegate.services.report_writes import ReportWrites
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Transaction
from support import Server, iso, raw_charger


async def test_a_bad_stop_in_a_batch_fails_alone_and_the_others_are_stored(
    shared_server: Server,
) -> None:
    operator = await shared_server.operator()
    async with (
        raw_charger(operator, "ocpp1.6") as (first, one),
        raw_charger(operator, "ocpp1.6") as (second, other),
    ):
        started = [
            await raw.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "DRIVER", "meterStart": 0, "timestamp": iso(0)},
            )
            for raw in (first, second)
        ]
    ids = [answer["transactionId"] for answer in started]
    engine = create_engine(shared_server.database_url)
    writes = ReportWrites(session_factory(engine), LocalBus())
    try:
        stops = [
            StopReport(charger.charge_point_id, transaction_id, 1000, utcnow(), "Local")
            for charger, transaction_id in zip((one, other), ids, strict=True)
        ]
        # Not registered: the stop cannot be stored, now or ever.
        stops.insert(1, StopReport("NO-SUCH-CHARGER", ids[0], 1000, utcnow(), "Local"))
        # Added in one go, so written in one batch, which the bad stop fails.
        answers = await asyncio.gather(
            *(writes.stops.add(stop) for stop in stops), return_exceptions=True
        )
        assert answers[0] is None and answers[2] is None, answers
        assert isinstance(answers[1], DeadLetter), answers
        async with session_factory(engine)() as session:
            stored = await session.execute(
                select(Transaction.state, Transaction.meter_stop_wh).where(Transaction.id.in_(ids))
            )
            assert [tuple(row) for row in stored] == [(TransactionState.CLOSED, 1000)] * 2
    finally:
        await engine.dispose()
