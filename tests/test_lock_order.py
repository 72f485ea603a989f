"""Writes about one transaction take their locks in one order (the transaction, its queue items,
its commands), so that two of them never deadlock on PostgreSQL. A deadlock is not lost data
(the loser is run again), but each costs a second (deadlock_timeout) and an error in the logs,
and under load they came by the dozen a minute."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from support import (
    RawCharger,
    Server,
    eventually,
    iso,
    poll_queue,
    raw_charger,
    start_session,
)

pytestmark = pytest.mark.postgres_only


@asynccontextmanager
async def holding_rows(server: Server, *queries: str) -> AsyncIterator[asyncpg.Connection]:
    """A database transaction of the test's own that locks the rows `queries` select until the
    block ends; yields a second connection to watch the server's sessions with."""
    dsn = server.database_url.replace("postgresql+asyncpg://", "postgresql://")
    holder = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    try:
        async with holder.transaction():
            for query in queries:
                assert await holder.fetch(query), query
            yield watcher
    finally:
        await holder.close()
        await watcher.close()


async def next_call(raw: RawCharger, action: str) -> list[Any]:
    """The server's next CALL of `action`, left unanswered; other CALLs are answered."""
    while True:
        async with asyncio.timeout(10):
            frame: list[Any] = json.loads(await raw.ws.recv())
        assert frame[0] == 2, frame
        if frame[2] == action:
            return frame
        await raw.answer(frame)


async def test_a_stop_answer_and_the_stop_report_written_at_once_do_not_deadlock(
    server: Server,
) -> None:
    """The charger accepts a stop and at once reports the transaction stopped (what most chargers
    do): the answer (group-committed by the dispatcher) and the report are written at the same
    time. Both are held up on rows the test locks until both wait, then let go together: taking
    the command before the transaction, the answer deadlocked with the report every time."""
    operator = await server.operator()
    async with raw_charger(operator, "ocpp1.6") as (raw, charger), operator.client() as client:
        created = await start_session(client, charger.port)
        start = await raw.next_request("RemoteStartTransaction")
        started = await raw.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": start["idTag"], "meterStart": 0, "timestamp": iso(0)},
        )
        transaction_id = started["transactionId"]
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open", opened

        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        assert patched.status_code == 202, patched.text
        stop = await next_call(raw, "RemoteStopTransaction")
        assert stop[3] == {"transactionId": transaction_id}, stop

        async with holding_rows(
            server,
            f"SELECT id FROM transactions WHERE id = {transaction_id} FOR UPDATE",
            f"SELECT id FROM commands WHERE transaction_id = {transaction_id} "
            "AND action = 'stop' FOR UPDATE",
        ) as watcher:
            await raw.ws.send(json.dumps([3, stop[1], {"status": "Accepted"}]))
            report = asyncio.create_task(
                raw.call(
                    "StopTransaction",
                    {"transactionId": transaction_id, "meterStop": 1000, "timestamp": iso(0)},
                )
            )

            async def both_wait() -> bool:
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return bool(waiting == 2)

            await eventually(both_wait)
        await report  # answered, whichever way the tie went

        done = await poll_queue(client, patched.json()["id"])
        assert done["state"] == "Closed", done

        async def answer_written() -> bool:
            dsn = server.database_url.replace("postgresql+asyncpg://", "postgresql://")
            connection = await asyncpg.connect(dsn)
            try:
                status = await connection.fetchval(
                    "SELECT status FROM commands WHERE transaction_id = $1 AND action = 'stop'",
                    transaction_id,
                )
            finally:
                await connection.close()
            return str(status) == "done"

        await eventually(answer_written)
    log = server.log()
    assert "40P01" not in log and "deadlock" not in log.lower(), log[-3000:]


@pytest.mark.server_env({"CHARGEGATE_START_TIMEOUT_S": "10"})
async def test_the_scheduler_failing_a_late_start_does_not_deadlock_with_a_report(
    server: Server,
) -> None:
    """Two starts pass their deadline while a report about the first is being written (the test
    holds its transaction's row, as that write would). The scheduler must not take the first
    start's queue item and then wait for its transaction, which the report holds and which then
    wants the queue item: it leaves the first for its next round and fails the second now."""
    operator = await server.operator()
    async with (
        raw_charger(operator, "ocpp1.6") as (first, first_charger),
        raw_charger(operator, "ocpp1.6") as (second, second_charger),
        operator.client() as client,
    ):
        held = await start_session(client, first_charger.port)
        witness = await start_session(client, second_charger.port)
        await first.next_request("RemoteStartTransaction")
        await second.next_request("RemoteStartTransaction")
        dsn = server.database_url.replace("postgresql+asyncpg://", "postgresql://")

        async def answers_written() -> bool:
            # Before the test takes the row: the answers' own writes lock the transaction too.
            connection = await asyncpg.connect(dsn)
            try:
                done = await connection.fetchval(
                    "SELECT count(*) FROM commands WHERE action = 'start' AND status = 'done'"
                )
            finally:
                await connection.close()
            return bool(done == 2)

        await eventually(answers_written)
        async with holding_rows(
            server,
            "SELECT t.id FROM transactions t WHERE t.transaction_uuid = "
            f"'{held['transaction_uuid']}' FOR UPDATE",
        ) as watcher:
            failed = await poll_queue(client, witness["queue_uuid"], timeout=60)
            assert failed["status"] == "FAILURE", failed
            # The report's next step: the start's queue item, free to take.
            taken = await watcher.fetch(
                "SELECT queue_uuid FROM queue_items WHERE queue_uuid = $1 FOR UPDATE NOWAIT",
                held["queue_uuid"],
            )
            assert len(taken) == 1
        failed = await poll_queue(client, held["queue_uuid"], timeout=60)
        assert failed["status"] == "FAILURE", failed
    log = server.log()
    assert "40P01" not in log and "deadlock" not in log.lower(), log[-3000:]
