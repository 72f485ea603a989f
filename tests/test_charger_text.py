"""Charger text that no database column takes (issue 11, defect 3): a lone surrogate or a NUL in
what a charger reports, or in the CALLERROR it answers a command with, is cleaned where the
frame arrives (U+FFFD) and stored, instead of failing the write; and a row the database still
refuses for good is dropped by the group commit, counted, and its command treated as
undelivered, instead of being retried for ever while every other batch of answers falls back to
one write per row. Real server, real sockets, simulated chargers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from chargegate.sim import quirks
from chargegate.store.database import create_engine, is_sqlite
from support import (
    Charger,
    Operator,
    Server,
    Simulators,
    metric,
    online,
    open_session,
    poll_queue,
    start_session,
    stop_session,
)

DEAD_LETTERS = 'chargegate_group_commit_dead_letters_total{what="command_answers"}'
CLEANED = "\N{REPLACEMENT CHARACTER}" * 2  # what quirks.BAD_TEXT is stored as
# What the database refuses in the trigger below: the answer of a charger that rejects a start.
POISON = "rejected the start request"


def storable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


async def query(server: Server, sql: str, **params: Any) -> list[Any]:
    """Runs one statement on the server's database; returns its rows, if it has any."""
    engine = create_engine(server.database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def session_round_trip(operator: Operator, charger: Charger) -> None:
    """A session on the charger's port opens, and ends Closed when stopped."""
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        done = await stop_session(client, created["transaction_uuid"])
        assert done["state"] == "Closed", done


async def test_a_charger_with_unstorable_text_is_served_and_its_error_answer_kept_clean(
    server: Server, simulators: Simulators
) -> None:
    """Its boot (vendor, firmware) and status reports (info, vendor error code) carry a lone
    surrogate and a NUL, and it refuses a start with a CALLERROR whose code and description do,
    each longer than OCPP-J allows. Before, the boot was refused (FormatViolation) and the
    charger never came online; the refusal's text wedged the group commit of answers."""
    operator = await server.operator()
    charger, neighbour = await operator.add_charger(), await operator.add_charger()
    sim = await online(simulators, server, charger, bad_strings=True)
    await online(simulators, server, neighbour)
    [(vendor,)] = await query(
        server,
        "SELECT vendor FROM chargers WHERE charge_point_id = :id",
        id=charger.charge_point_id,
    )
    assert vendor == f"chargegate{CLEANED}"

    async def refused_start() -> str:
        sim.accept_remote_start = False
        async with operator.client() as client:
            created = await start_session(client, charger.port)
            failed = await poll_queue(client, created["queue_uuid"])
        sim.accept_remote_start = True
        assert failed["status"] == "FAILURE", failed
        return str(failed["reason"])

    # The neighbour's answers are written alongside the bad one, and after it.
    reason, _ = await asyncio.gather(refused_start(), session_round_trip(operator, neighbour))
    assert storable(reason), reason
    code = f"GenericError{CLEANED}".ljust(50, "x")
    description = f"refused{CLEANED}".ljust(255, "y")
    assert f"with an error ({code}: {description})" in reason, reason
    await session_round_trip(operator, charger)
    await session_round_trip(operator, neighbour)
    assert len(quirks.BAD_ERROR_CODE) > 50 and len(quirks.BAD_ERROR_DESCRIPTION) > 255
    # Cleaned where it arrived: nothing had to be dropped.
    assert await metric(server, DEAD_LETTERS) == 0


@pytest.fixture
def patient(tmp_path: Path) -> Iterator[Server]:
    """A start has 60 s to succeed: long enough for a second attempt on a loaded machine."""
    env = {"CHARGEGATE_START_TIMEOUT_S": "60"}
    with Server(workdir=tmp_path, extra_env=env).running() as instance:
        yield instance


async def refuse_rejections(server: Server) -> None:
    """Makes the database refuse, for good, to store a charger's rejection of a start as a
    command's result (a constraint error, as a value no column takes would be)."""
    if is_sqlite(server.database_url):
        statements = [
            "CREATE TRIGGER poison BEFORE UPDATE OF result ON commands "
            f"WHEN NEW.result LIKE '%{POISON}%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        ]
    else:
        statements = [
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.result LIKE '%{POISON}%' THEN "
            "RAISE EXCEPTION 'poisoned' USING ERRCODE = 'check_violation'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER poison BEFORE UPDATE ON commands "
            "FOR EACH ROW EXECUTE FUNCTION poison()",
        ]
    for statement in statements:
        await query(server, statement)


async def test_an_answer_the_database_refuses_is_dropped_and_its_command_sent_again(
    patient: Server, simulators: Simulators
) -> None:
    """The charger rejects the first start, and the database refuses to store that answer.
    The group commit drops it (logged without its text, counted) and the command counts as
    undelivered: it goes out again, is accepted, and the session opens. Before, the answer was
    retried for ever, the command stayed claimed and unsent, and the start failed at its
    deadline."""
    server = patient
    operator = await server.operator()
    charger, neighbour = await operator.add_charger(), await operator.add_charger()
    sim = await online(simulators, server, charger, accept_remote_start=False)
    await online(simulators, server, neighbour)
    await refuse_rejections(server)

    async def start_after_refusal() -> dict[str, Any]:
        async with operator.client() as client:
            created = await start_session(client, charger.port)
            await sim.wait_until(lambda: sim.start_requests == 1)
            sim.accept_remote_start = True
            return await poll_queue(client, created["queue_uuid"], timeout=60)

    started, _ = await asyncio.gather(
        start_after_refusal(), session_round_trip(operator, neighbour)
    )
    assert started.get("state") == "Open", started
    assert sim.start_requests == 2
    assert await metric(server, DEAD_LETTERS) == 1
    [dropped] = [line for line in server.log().splitlines() if "refuses for good" in line]
    assert json.loads(dropped)["what"] == "command_answers", dropped
    assert POISON not in dropped and "poisoned" not in dropped, dropped
    await session_round_trip(operator, neighbour)
    async with operator.client() as client:
        done = await stop_session(client, started["transaction_uuid"])
        assert done["state"] == "Closed", done
