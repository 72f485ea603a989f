"""Meter readings written together (ReportWrites.readings): a batch of many chargers' readings,
naming their transactions in all three ways, ends as the same readings written one at a time
in the order they came. A port's reading finds the transaction open there by the index of open
transactions, however PostgreSQL plans it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select

from chargegate.bus.local import LocalBus
from chargegate.services.report_writes import ReportWrites
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Transaction
from chargegate.store.readings import OnPort, Reading, record_readings
from support import Server, accepted_cards, iso, raw_charger, start_report


async def test_a_batch_of_readings_is_kept_in_the_order_they_came(
    shared_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    operator = await shared_server.operator()
    await accepted_cards(operator, "R1", "R2")
    async with (
        raw_charger(operator, "ocpp1.6") as (old, one),
        raw_charger(operator, "ocpp2.0.1") as (new, other),
    ):
        action, payload = start_report("ocpp1.6", 1, "R1", iso(-60))
        ours = (await old.call(action, payload))["transactionId"]
        action, payload = start_report("ocpp2.0.1", 1, "R2", iso(-60))
        await new.call(action, payload)
        theirs = payload["transactionInfo"]["transactionId"]
    engine = create_engine(shared_server.database_url)
    writes = ReportWrites(session_factory(engine), LocalBus())
    try:
        readings = [
            Reading(one.charge_point_id, ours, 100, None, None),
            Reading(other.charge_point_id, theirs, 200, 16.0, None),
            Reading(other.charge_point_id, OnPort(1), 300, None, 11000.0),
            # Two alike in a row: one statement for both (its port has no open transaction).
            Reading(other.charge_point_id, OnPort(2), 9000, None, None),
            Reading(one.charge_point_id, ours, 400, 10.0, 6900.0),
            # The transaction named again by the station's own id, after the port's reading.
            Reading(other.charge_point_id, theirs, 500, None, None),
            # None of these names an open transaction of its charger: nothing changes.
            Reading(one.charge_point_id, OnPort(2), 9000, None, None),
            Reading(other.charge_point_id, ours, 9000, None, None),
            Reading("NO-SUCH-CHARGER", theirs, 9000, None, None),
        ]
        # Added in one go, so written in one batch (which a failure would have written again
        # one by one, to the same end).
        await asyncio.gather(*(writes.readings.add(reading) for reading in readings))
        assert "writing a batch failed" not in caplog.text
        async with session_factory(engine)() as session:
            stored = await session.execute(
                select(
                    Transaction.id_tag,
                    Transaction.meter_last_wh,
                    Transaction.measured_current_a,
                    Transaction.measured_power_w,
                )
                .where(Transaction.id_tag.in_(["R1", "R2"]))
                .order_by(Transaction.id_tag)
            )
            assert [tuple(row) for row in stored] == [
                ("R1", 400, 10.0, 6900.0),
                ("R2", 500, 16.0, 11000.0),
            ]
    finally:
        await engine.dispose()


async def test_a_fleets_mixed_readings_take_a_few_statements(shared_server: Server) -> None:
    """Readings naming their transactions by our id and by port, mixed as a fleet of both
    versions sends them: one statement for each way in each round, not one for each change of
    way."""
    engine = create_engine(shared_server.database_url)
    statements: list[str] = []

    def count(_: Any, __: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE"):
            statements.append(statement)

    readings: list[Reading] = [
        Reading(f"CP-MIXED-{n}", OnPort(1) if n % 2 else n, 100, None, None) for n in range(10)
    ]
    readings.append(Reading("CP-MIXED-0", OnPort(2), 200, None, None))
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with session_factory(engine)() as session, session.begin():
            await record_readings(session, readings)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        await engine.dispose()
    # Round one: ten chargers' readings by id and by port; round two: CP-MIXED-0's second.
    assert len(statements) == 3, statements


def _sql(value: Any) -> str:
    if value is None:
        return "NULL"
    return f"'{value}'" if isinstance(value, str) else str(value)


@pytest.mark.postgres_only
async def test_a_port_reading_looks_up_the_open_transaction_by_its_index(
    shared_server: Server,
) -> None:
    """As planned generically (PostgreSQL's plan for a prepared statement after five runs):
    a plan that also read the index on state read an entry for every version of every Open row
    still in the table, milliseconds a reading in a reconnect storm."""
    url = shared_server.database_url
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []

    def capture(_: Any, __: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with session_factory(engine)() as session, session.begin():
            await record_readings(session, [Reading("CP-NONE", OnPort(1), 100, 16.0, None)])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        await engine.dispose()
    [(statement, parameters)] = [one for one in sent if one[0].startswith("UPDATE")]
    arguments = parameters[0] if isinstance(parameters, list) else parameters
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE reading AS {statement}")
        plan = await connection.fetch(f"EXPLAIN EXECUTE reading({', '.join(map(_sql, arguments))})")
    finally:
        await connection.close()
    assert "ix_transactions_open" in "\n".join(row[0] for row in plan), plan
