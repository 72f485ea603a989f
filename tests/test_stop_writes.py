"""Stop reports written together (services.stop_writes): one that cannot be stored fails only
its own charger, and the others in its batch are stored all the same; a batch ends exactly as
its stops written one at a time would."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chargegate import provisioning
from chargegate.bus.local import LocalBus
from chargegate.domain.reports import StopReport
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services.group_commit import DeadLetter
from chargegate.services.report_writes import ReportWrites
from chargegate.store.database import create_engine, one_off_session, session_factory
from chargegate.store.models import (
    Charger,
    Command,
    Port,
    QueueItem,
    Transaction,
    WebhookDelivery,
)
from support import (
    Server,
    accepted_cards,
    eventually,
    iso,
    raw_charger,
    start_report,
)
from test_webhooks import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = Receiver()
    await instance.start()
    yield instance
    await instance.stop()


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


# The times the chargers report, the same in both runs of the scenario.
STARTED, RESTARTED = iso(-600), iso(-300)
STOPPED = utcnow().replace(microsecond=0) - timedelta(seconds=60)


async def _scenario(server: Server, receiver: Receiver, together: bool) -> list[Any]:
    """Open sessions on 1.6 chargers, stops asked for through the API (one sent and accepted,
    one still being sent), one closed by us before its charger's stop report (superseded by a
    new start on its connector), a 2.0.1 charger's transaction; then their chargers' stops, a
    repeat and one for an unknown transaction, written as one batch (`together`) or one at a
    time. Returns what they wrote, without ids and times that differ from run to run."""
    operator = await server.operator()
    await accepted_cards(operator, *(f"D{n}" for n in range(1, 7)))
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    async with (
        raw_charger(operator, "ocpp1.6", connectors=3) as (old, one),
        raw_charger(operator, "ocpp1.6") as (late, third),
        raw_charger(operator, "ocpp2.0.1") as (new, other),
    ):
        ids = [
            (await old.call("StartTransaction", _start(connector, STARTED, connector)))[
                "transactionId"
            ]
            for connector in (1, 2, 3)
        ]
        await old.call("StartTransaction", _start(3, RESTARTED, 4))  # supersedes ids[2]
        ids.append((await late.call("StartTransaction", _start(1, STARTED, 5)))["transactionId"])
        action, payload = start_report("ocpp2.0.1", 1, "D6", STARTED, 6)
        await new.call(action, payload)
        theirs = payload["transactionInfo"]["transactionId"]
        uuids = [
            await _uuid(server, Transaction.id == ids[0]),
            await _uuid(server, Transaction.id == ids[3]),
        ]
        async with operator.client() as client:

            async def shown() -> bool:
                for transaction_uuid in uuids:
                    if (await client.get(f"/transactions/{transaction_uuid}")).status_code != 200:
                        return False
                return True

            # Sessions once their starts' verdicts are written.
            await eventually(shown)
            accepted = await client.patch(f"/transactions/{uuids[0]}", json={"state": "closed"})
            assert accepted.status_code == 202, accepted.text
            await old.next_request("RemoteStopTransaction")  # answered Accepted
            sending = await client.patch(f"/transactions/{uuids[1]}", json={"state": "closed"})
            assert sending.status_code == 202, sending.text
            # Read and left unanswered: its command is still being sent.
            async with asyncio.timeout(10):
                assert json.loads(await late.ws.recv())[2] == "RemoteStopTransaction"
        at = STOPPED
        stops = [
            StopReport(one.charge_point_id, ids[0], 1100, at, "Remote"),
            StopReport(one.charge_point_id, ids[1], 1200, at, "Remote"),
            StopReport(one.charge_point_id, ids[2], 1300, at, "EVDisconnected"),
            StopReport(third.charge_point_id, ids[3], 1400, at, "Remote"),
            StopReport(other.charge_point_id, theirs, 1450, at, "Local"),
            StopReport(one.charge_point_id, ids[0], 1100, at, "Remote"),
            StopReport(one.charge_point_id, 10**9, 1500, at, "Local"),
        ]
        engine = create_engine(server.database_url)
        try:
            before = await _last_delivery(engine)
            statements = _count_statements(engine)
            writes = ReportWrites(session_factory(engine), LocalBus())
            if together:
                await asyncio.gather(*(writes.stops.add(stop) for stop in stops))
                # A few for the batch (some for each kind of change made to the transactions),
                # where written one by one it took several for each stop.
                assert len(statements) <= 16, statements
            else:
                for stop in stops:
                    await writes.stops.add(stop)
            chargers = [one.charge_point_id, third.charge_point_id, other.charge_point_id]
            return await _written(engine, chargers, before)
        finally:
            await engine.dispose()


async def _uuid(server: Server, which: ColumnElement[bool]) -> str:
    async with one_off_session(server.database_url) as session:
        found = await session.scalar(select(Transaction.transaction_uuid).where(which))
        assert found is not None
        return found


def _start(connector: int, timestamp: str, meter_wh: int) -> dict[str, Any]:
    """Each start its own card (one in use is refused) and meter reading (the same tag, time and
    reading is a repeated report)."""
    return {
        "connectorId": connector,
        "idTag": f"D{meter_wh}",
        "meterStart": meter_wh,
        "timestamp": timestamp,
    }


async def _last_delivery(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        return await session.scalar(select(func.max(WebhookDelivery.id))) or 0


def _count_statements(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return statements


async def _written(engine: AsyncEngine, charge_point_ids: list[str], before: int) -> list[Any]:
    async with session_factory(engine)() as session:
        ours = (
            select(Transaction.id)
            .join(Port, Port.port_uuid == Transaction.port_uuid)
            .join(Charger, Charger.id == Port.charger_id)
            .where(Charger.charge_point_id.in_(charge_point_ids))
        )
        rows = await session.execute(
            select(
                Transaction.state,
                Transaction.started_at,
                Transaction.ended_at,
                Transaction.meter_stop_wh,
                Transaction.meter_last_wh,
                Transaction.stop_reason,
                Transaction.charger_stop_reason,
            )
            .where(Transaction.id.in_(ours))
            .order_by(Transaction.id)
        )
        items = await session.execute(
            select(QueueItem.kind, QueueItem.status, QueueItem.reason)
            .where(QueueItem.transaction_id.in_(ours))
            .order_by(QueueItem.transaction_id, QueueItem.created_at)
        )
        commands = await session.execute(
            select(Command.action, Command.status)
            .where(Command.transaction_id.in_(ours))
            .order_by(Command.id)
        )
        deliveries = (
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.id > before)
                .order_by(WebhookDelivery.id)
            )
        ).all()
    events = []
    for delivery in deliveries:
        body = json.loads(delivery.body)
        assert body.pop("id") == delivery.event_id
        del body["created"]
        events.append((delivery.event_type, delivery.ordering_key.split(":")[0], body))
    text = json.dumps(
        [
            [list(map(str, row)) for row in rows],
            [list(map(str, row)) for row in items],
            [list(map(str, row)) for row in commands],
            events,
        ]
    )
    # Each run's own uuids.
    return json.loads(re.sub(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", "U", text))


async def test_stops_written_together_end_as_one_at_a_time(
    shared_server: Server, receiver: Receiver
) -> None:
    alone = await _scenario(shared_server, receiver, together=False)
    together = await _scenario(shared_server, receiver, together=True)
    assert together == alone
    states, items, commands, events = alone
    # The scenario is what it says: the superseded transaction is completed by its charger's
    # report, each stop asked for has its queue item resolved, and the command still being
    # sent is cancelled.
    assert [row[0] for row in states] == ["Closed"] * 3 + ["Open"] + ["Closed"] * 2, states
    assert states[2][3:6] == ["1300", "1300", "charger:Superseded"], states
    assert items == [["stop", "SUCCESS", "None"]] * 2, items
    assert commands == [["stop", "done"], ["stop", "cancelled"]], commands
    closed, resolved = "transaction.closed", "queue_item.resolved"
    assert [e[0] for e in events] == [closed, resolved, closed, closed, resolved, closed], events
