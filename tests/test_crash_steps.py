"""kill -9 of the server at each step of a session, then a restart: the session ends right,
and exactly one stop reaches the charger."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from chargegate.domain.states import CommandStatus, TransactionAction
from chargegate.sim.charger import SimulatedCharger
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Command
from support import (
    RESTART_ENV,
    Server,
    Simulators,
    eventually,
    online,
    poll_queue,
    poll_transaction,
    start_session,
)

pytestmark = pytest.mark.server_env(RESTART_ENV)


async def restart(server: Server, sim: SimulatedCharger) -> None:
    server.kill()
    await sim.wait_until(lambda: not sim.online)
    server.start()
    await sim.wait_until(lambda: sim.online, timeout=30)


async def close_and_settle(
    client: httpx.AsyncClient, sim: SimulatedCharger, transaction_uuid: str
) -> None:
    patched = await client.patch(f"/transactions/{transaction_uuid}", json={"state": "closed"})
    if patched.status_code == 202:
        assert (await poll_queue(client, patched.json()["id"]))["state"] == "Closed"
    else:
        assert patched.status_code == 403, patched.text
    await poll_transaction(client, transaction_uuid, lambda tx: tx["state"] == "Closed")
    await asyncio.sleep(3)  # room for a wrongly repeated stop to show up


async def test_kill_after_start_requested(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await restart(server, sim)
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened.get("state") == "Open", opened
        await close_and_settle(client, sim, created["transaction_uuid"])
    assert sim.start_requests == 1
    assert sim.stop_requests == 1


async def start_answer_stored(server: Server) -> bool:
    """Whether the charger's answer to the (only) start command is in the database."""
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session:
            status = await session.scalar(
                select(Command.status).where(Command.action == TransactionAction.START)
            )
    finally:
        await engine.dispose()
    return status is CommandStatus.DONE


# The start is answered before the kill and the deadline passes while we are down, so the
# restart needs no room in it: a short one is waited out sooner.
SHORT_START = {**RESTART_ENV, "CHARGEGATE_START_TIMEOUT_S": "5"}


@pytest.mark.server_env(SHORT_START)
async def test_start_taken_while_we_are_down_opens_after_the_restart(
    server: Server, simulators: Simulators
) -> None:
    """The charger took the start; the EV is plugged in while the server is down and past the
    start's deadline. Its report of the started transaction comes after the restart: it opens
    the session, and the deadline that passed during our outage does not fail it first."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, ev_plugged_in=False)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await sim.wait_until(lambda: sim.start_requests == 1)
        [request] = sim.requests(sim.dialect.start_request)
        id_tag = request["idTag"] if "idTag" in request else request["idToken"]["idToken"]
        await eventually(lambda: start_answer_stored(server))
        server.kill()
        await sim.wait_until(lambda: not sim.online)
        deadline = time.monotonic() + float(SHORT_START["CHARGEGATE_START_TIMEOUT_S"])

        async def past_the_deadline() -> bool:
            return time.monotonic() > deadline

        await eventually(past_the_deadline, timeout=60)
        plugged = asyncio.create_task(
            sim.begin_transaction(1, id_tag, request.get("remoteStartId"))
        )
        server.start()
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened.get("state") == "Open", opened
        await plugged
        await close_and_settle(client, sim, created["transaction_uuid"])


async def test_kill_while_open(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await poll_queue(client, created["queue_uuid"])
        await restart(server, sim)
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Open"
        await close_and_settle(client, sim, created["transaction_uuid"])
    assert sim.stop_requests == 1


async def test_kill_after_stop_sent_before_answer(server: Server, simulators: Simulators) -> None:
    """The charger got the stop, but the server died before recording its answer: the command
    is in doubt. The charger's queued stop report arrives after the restart and settles it."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, stop_delay_s=0.5, stop_answer_delay_s=5)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await poll_queue(client, created["queue_uuid"])
        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        await sim.wait_until(lambda: sim.stop_requests == 1)
        await restart(server, sim)
        done = await poll_queue(client, patched.json()["id"], timeout=30)
        assert done["state"] == "Closed"
        await asyncio.sleep(4)  # past the resend settle time
    assert sim.stop_requests == 1


async def test_kill_after_stop_answered(server: Server, simulators: Simulators) -> None:
    """The charger accepted the stop but reports it only after the server is back."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, stop_delay_s=1.5)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await poll_queue(client, created["queue_uuid"])
        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        await sim.wait_until(lambda: sim.stop_requests == 1)
        await asyncio.sleep(0.3)  # the answer is recorded
        await restart(server, sim)
        done = await poll_queue(client, patched.json()["id"], timeout=30)
        assert done["state"] == "Closed"
        await asyncio.sleep(3)
    assert sim.stop_requests == 1


async def test_kill_after_stop_confirmed(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        await poll_queue(client, created["queue_uuid"])
        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        await poll_queue(client, patched.json()["id"])
        await restart(server, sim)
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Closed"
        assert (await client.get(f"/queue/{patched.json()['id']}")).json()["state"] == "Closed"
        await asyncio.sleep(3)
    assert sim.stop_requests == 1
