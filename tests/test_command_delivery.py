"""When a command on a charger goes out: one for an offline charger waits for it (until its
`expires`, or the command timeout); one sent just before a crash is sent again only if doing
it twice is the same as once."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from chargegate.store.database import create_engine
from chargegate.store.models import Command
from support import RESTART_ENV, Operator, Server, Simulators, iso, online, poll_queue
from test_charger_commands import queued

pytestmark = pytest.mark.server_env(
    {**RESTART_ENV, "CHARGEGATE_COMMAND_TIMEOUT_S": "4", "CHARGEGATE_RESEND_SETTLE_S": "1"}
)


async def test_a_command_waits_for_its_offline_charger(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """Sent while the charger is away, delivered and answered once it connects."""
    charger = await op.add_charger()
    async with op.client() as client:
        queue_uuid = await queued(
            client,
            charger.charge_point_id,
            action="unlock_connector",
            params={"port": 1},
            expires=iso(60),
        )
        waiting = (await client.get(f"/queue/{queue_uuid}")).json()
        assert waiting["status"] == "IN PROGRESS", waiting
        sim = await online(simulators, shared_server, charger)
        unlocked = await poll_queue(client, queue_uuid)
    assert unlocked["status"] == "SUCCESS" and unlocked["result"] == {"status": "Unlocked"}
    assert len(sim.requests("UnlockConnector")) == 1


async def test_a_command_for_a_charger_that_stays_away_expires(server: Server) -> None:
    """Its own expires, or else the command timeout (4 s here): then it fails, offline."""
    operator = await server.operator()
    charger = await operator.add_charger()
    cp = charger.charge_point_id
    async with operator.client() as client:
        expires = iso(2)
        own = await queued(client, cp, action="clear_cache", expires=expires)
        default = await queued(client, cp, action="clear_cache")
        for queue_uuid, when in (
            (own, f"by {expires[:19]} (its expires)"),
            (default, "within 4 s"),
        ):
            failed = await poll_queue(client, queue_uuid)
            assert failed == {
                "id": queue_uuid,
                "status": "FAILURE",
                "command": "clear_cache",
                "reason": f"Charger {cp} was offline (not connected to chargegate) and did not "
                f"come back {when}, so the command was not sent",
            }


@pytest.mark.server_env(
    {**RESTART_ENV, "CHARGEGATE_COMMAND_TIMEOUT_S": "120", "CHARGEGATE_RESEND_SETTLE_S": "1"}
)
async def test_in_doubt_after_a_crash(server: Server, simulators: Simulators) -> None:
    """A reset and a ClearCache (to two chargers: a charger takes one CALL at a time) are
    sent, and the server is killed before either charger answers. Back up, ClearCache goes
    again (twice is once); the reset does not (twice reboots twice): its queue item says it
    may or may not have been carried out."""
    operator = await server.operator()
    resetting, clearing = await operator.add_charger(), await operator.add_charger()
    sims = [await online(simulators, server, charger) for charger in (resetting, clearing)]
    for sim in sims:
        sim.hold_answers = True
    kind = "hard" if simulators.ocpp_version == "1.6" else "immediate"
    async with operator.client() as client:
        reset = await queued(
            client, resetting.charge_point_id, action="reset", params={"type": kind}
        )
        cache = await queued(client, clearing.charge_point_id, action="clear_cache")
        await sims[0].wait_until(lambda: sims[0].count("Reset") == 1)
        await sims[1].wait_until(lambda: sims[1].count("ClearCache") == 1)
        server.kill()
        for sim in sims:
            # Its answer goes nowhere: the server is gone.
            sim.hold_answers = False
            await sim.notify()
            await sim.wait_until(lambda sim=sim: not sim.online)
        server.start()
        doubtful = await poll_queue(client, reset, timeout=60)
        resent = await poll_queue(client, cache, timeout=60)
    assert doubtful["status"] == "FAILURE", doubtful
    assert "it may or may not have been carried out" in doubtful["reason"], doubtful
    assert "reset twice is not the same as once" in doubtful["reason"], doubtful
    assert resent["status"] == "SUCCESS" and resent["result"] == {"status": "Accepted"}
    assert sims[1].count("ClearCache") == 2
    assert sims[0].count("Reset") == 1


async def test_a_stored_command_that_no_longer_parses_fails_alone(
    server: Server, simulators: Simulators
) -> None:
    """A command whose stored params no longer parse (written by another version, or edited by
    hand), claimed in one pass with good ones: its own queue item fails, saying why, and the
    good ones on either side of it reach the charger."""
    operator = await server.operator()
    charger = await operator.add_charger()
    cp = charger.charge_point_id
    async with operator.client() as client:
        before = await queued(client, cp, action="clear_cache", expires=iso(60))
        bad = await queued(client, cp, action="clear_cache", expires=iso(60))
        after = await queued(
            client, cp, action="unlock_connector", params={"port": 1}, expires=iso(60)
        )
        engine = create_engine(server.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(Command).where(Command.queue_uuid == bad).values(params={"pw": "s3cr3t"})
                )
        finally:
            await engine.dispose()
        sim = await online(simulators, server, charger)
        cleared = await poll_queue(client, before)
        unlocked = await poll_queue(client, after)
        failed = await poll_queue(client, bad)
    assert cleared["status"] == "SUCCESS", cleared
    assert unlocked["status"] == "SUCCESS", unlocked
    assert failed == {
        "id": bad,
        "status": "FAILURE",
        "command": "clear_cache",
        "reason": f"clear_cache was not sent to charger {cp}: its stored params no longer parse "
        "(Unknown param(s): pw. clear_cache takes no params)",
    }, failed
    assert sim.count("ClearCache") == 1
    log = server.log()
    assert log.count("params do not parse") == 1, log
    assert "s3cr3t" not in log and "dispatcher pass failed" not in log
