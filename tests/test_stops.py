"""Stops that take: a stop the charger refuses or never reports is retried, reconciled with the
charger, visible while it is stuck, and ends with the transaction Closed (or with the operator
giving up on it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chargegate import provisioning
from support import (
    Operator,
    Server,
    Simulators,
    api_time,
    assert_error,
    expire_in,
    iso,
    metric,
    online,
    open_session,
    poll_queue,
    poll_transaction,
)
from test_webhooks import Receiver, until

# An accepted stop must be reported within 3 s; a failed one is retried after 0.5 s, 1 s, ...
FAST_STOPS = {
    "CHARGEGATE_STOP_CONFIRM_S": "3",
    "CHARGEGATE_STOP_RETRY_BASE_S": "0.5",
    "CHARGEGATE_WEBHOOK_RETRY_BASE_S": "0.2",
}
# A failed stop waits long enough before its next attempt for the test to act meanwhile.
SLOW_RETRIES = {**FAST_STOPS, "CHARGEGATE_STOP_RETRY_BASE_S": "120"}
RECONCILE = {"ocpp1.6": "TriggerMessage", "ocpp2.0.1": "GetTransactionStatus"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = Receiver()
    await instance.start()
    yield instance
    await instance.stop()


def _server(tmp_path: Path, env: dict[str, str]) -> Iterator[Server]:
    with Server(workdir=tmp_path, extra_env=env).running() as instance:
        yield instance


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path, FAST_STOPS)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path, SLOW_RETRIES)


async def hooked(server: Server, receiver: Receiver) -> Operator:
    operator = await server.operator()
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    return operator


def events(receiver: Receiver, transaction_uuid: str, kind: str) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in receiver.events()
        if e["type"] == kind and e["data"].get("transaction_uuid") == transaction_uuid
    ]


STUCK = "chargegate_stops_retrying"


async def until_async(read: Callable[[], Awaitable[float]], value: float) -> None:
    deadline = time.monotonic() + 30
    while (seen := await read()) != value:
        assert time.monotonic() < deadline, f"still {seen}, waiting for {value}"
        await asyncio.sleep(0.1)


async def test_a_refused_stop_is_retried_until_it_takes(
    fast: Server, receiver: Receiver, simulators: Simulators
) -> None:
    operator = await hooked(fast, receiver)
    charger = await operator.add_charger()
    sim = await online(simulators, fast, charger, refuse_stops=2)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        stop = (await client.patch(f"/transactions/{tx}", json={"state": "closed"})).json()
        done = await poll_queue(client, stop["id"], timeout=60)
        assert done["state"] == "Closed", done
        assert done["stop"] is None
    assert sim.stop_requests == 3
    # Before each new attempt the charger was asked whether the transaction still ran.
    assert sim.count(RECONCILE[sim.dialect.subprotocol]) == 2
    await until(lambda: len(events(receiver, tx, "transaction.closed")) == 1)
    failed = events(receiver, tx, "transaction.stop_failed")
    assert [f["stop"]["attempts"] for f in failed] == [1, 2], failed
    for refusal in failed:
        assert refusal["state"] == "Open" and refusal["stop"]["state"] == "retrying"
        assert "rejected the stop request" in refusal["stop"]["last_error"]
        assert api_time(refusal["stop"]["next_step"]) >= api_time(refusal["stop"]["requested"])
    order = [e["type"] for e in receiver.events() if e["data"].get("transaction_uuid") == tx]
    assert order[-3:] == [
        "transaction.stop_failed",
        "transaction.stop_failed",
        "transaction.closed",
    ]
    assert await metric(fast, 'chargegate_stop_failures_total{cause="refused"}') == 2


async def test_a_charger_still_charging_when_asked_reports_its_own_stop(
    fast: Server, simulators: Simulators
) -> None:
    """Asked after a refusal, the charger says the transaction still runs; when the next stop
    takes, the transaction closes on the charger's stop report, with its meter reading, not on
    the status it passes through on the way."""
    operator = await fast.operator()
    charger = await operator.add_charger()
    # No meter ticks of its own (a slow run would see one): the energy is what the test adds.
    sim = await online(simulators, fast, charger, refuse_stops=1, meter_interval_s=3600)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        sim.connectors[1].meter_wh += 5000
        tx = created["transaction_uuid"]
        stop = (await client.patch(f"/transactions/{tx}", json={"state": "closed"})).json()
        done = await poll_queue(client, stop["id"], timeout=60)
    assert done["state"] == "Closed", done
    assert sim.count(RECONCILE[sim.dialect.subprotocol]) == 1
    assert done["energy_wh"] == 5000, done


async def test_a_charger_that_reports_only_when_asked_is_reconciled(
    fast: Server, simulators: Simulators
) -> None:
    """The charger forgot the transaction (it ended, unreported): it refuses the stop for a
    transaction it no longer knows, and says on request that nothing runs."""
    operator = await fast.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, fast, charger)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        sim.lose_transaction(1)
        stop = (await client.patch(f"/transactions/{tx}", json={"state": "closed"})).json()
        done = await poll_queue(client, stop["id"], timeout=60)
        assert done["state"] == "Closed" and done["ended"] is not None, done
    assert sim.stop_requests == 1  # refused, and never accepted
    assert sim.count(RECONCILE[sim.dialect.subprotocol]) >= 1


async def test_a_stop_report_after_the_charger_said_nothing_runs_completes_the_session(
    fast: Server, simulators: Simulators
) -> None:
    """Asked while its stop report was still queued (or being handled), the charger said
    nothing runs; the report that follows gives the session its true end and energy."""
    operator = await fast.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, fast, charger, meter_interval_s=3600)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        sim.connectors[1].meter_wh += 4000
        report = sim.dialect.stopped(sim.connectors[1], "Local")
        sim.lose_transaction(1)
        stop = (await client.patch(f"/transactions/{tx}", json={"state": "closed"})).json()
        reconciled = await poll_queue(client, stop["id"], timeout=60)
        assert reconciled["state"] == "Closed" and reconciled["energy_wh"] != 4000, reconciled
        await sim.enqueue(report, durable=True).done
        completed = await poll_transaction(client, tx, lambda t: t["energy_wh"] == 4000)
    assert completed["state"] == "Closed"
    assert api_time(completed["ended"]) <= api_time(reconciled["ended"])


async def test_a_stop_accepted_and_never_reported_is_retried(
    fast: Server, receiver: Receiver, simulators: Simulators
) -> None:
    operator = await hooked(fast, receiver)
    charger = await operator.add_charger()
    # It accepts the stop and would report it only in an hour.
    sim = await online(simulators, fast, charger, stop_delay_s=3600)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        stop = (await client.patch(f"/transactions/{tx}", json={"state": "closed"})).json()
        await until(lambda: bool(events(receiver, tx, "transaction.stop_failed")), timeout=30)
        [unreported] = events(receiver, tx, "transaction.stop_failed")[:1]
        assert "did not report the transaction ended" in unreported["stop"]["last_error"]
        sim.stop_delay_s = 0
        done = await poll_queue(client, stop["id"], timeout=60)
        assert done["state"] == "Closed", done
    assert sim.stop_requests >= 2
    assert await metric(fast, 'chargegate_stop_failures_total{cause="unreported"}') >= 1


async def test_an_expiry_stop_that_is_refused_can_be_extended(
    slow: Server, receiver: Receiver, simulators: Simulators
) -> None:
    """An expiry stop has no queue item: the refusal is told by webhook and in the body, and
    PATCH expires still works (it calls the stuck stop off; the new expiry stops again)."""
    operator = await hooked(slow, receiver)
    charger = await operator.add_charger()
    sim = await online(simulators, slow, charger, refuse_stops=1)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        tx = created["transaction_uuid"]
        await expire_in(client, tx, 2)
        await until(lambda: bool(events(receiver, tx, "transaction.stop_failed")), timeout=30)
        stuck = (await client.get(f"/transactions/{tx}")).json()
        assert stuck["state"] == "Open"
        assert stuck["stop"]["state"] == "retrying" and stuck["stop"]["attempts"] == 1, stuck
        extended = await client.patch(f"/transactions/{tx}", json={"expires": iso(3)})
        assert extended.status_code == 204, extended.text
        running = (await client.get(f"/transactions/{tx}")).json()
        assert running["state"] == "Open" and running["stop"] is None, running
        closed = await poll_transaction(client, tx, lambda t: t["state"] == "Closed", timeout=30)
        assert api_time(closed["ended"]) >= api_time(running["expires"])
    assert sim.stop_requests == 2


async def test_asking_again_retries_a_stuck_stop_at_once(
    slow: Server, simulators: Simulators
) -> None:
    operator = await slow.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, slow, charger, refuse_stops=1)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        stop = (await client.patch(path, json={"state": "closed"})).json()
        await poll_transaction(
            client, created["transaction_uuid"], lambda t: (t["stop"] or {}).get("attempts") == 1
        )
        # The queue item follows the stop while it is retried; the dashboard and /metrics show
        # the stuck stop.
        assert (await client.get(f"/queue/{stop['id']}")).json()["status"] == "IN PROGRESS"
        board = (await client.get(f"{slow.base_url}/dashboard/api/overview")).json()
        [shown] = board["open_transactions"]
        assert shown["stop"]["attempts"] == 1 and shown["stop"]["state"] == "retrying", shown

        async def gauge() -> float:
            return await metric(slow, STUCK)

        await until_async(gauge, 1.0)
        again = await client.patch(path, json={"state": "closed"})
        assert again.status_code == 202 and again.json() == stop
        # Well before the 120 s backoff: asking again does not wait for it.
        done = await poll_queue(client, stop["id"], timeout=40)
        assert done["state"] == "Closed", done
        await until_async(gauge, 0.0)
    assert sim.stop_requests == 2


async def test_the_operator_can_give_up_on_a_stuck_stop(
    slow: Server, simulators: Simulators
) -> None:
    operator = await slow.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, slow, charger, refuse_stops=1000)
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        forced = await client.patch(path, json={"state": "closed", "force": True})
        assert "force" in assert_error(forced, 409)
        assert (await client.get(path)).json()["stop"] is None  # and nothing changed
        stop = (await client.patch(path, json={"state": "closed"})).json()
        await poll_transaction(
            client, created["transaction_uuid"], lambda t: (t["stop"] or {}).get("attempts") == 1
        )
        given_up = await client.patch(path, json={"state": "closed", "force": True})
        assert given_up.status_code == 202 and given_up.json() == stop
        item = (await client.get(f"/queue/{stop['id']}")).json()
        assert item["status"] == "FAILURE" and "Abandoned" in item["reason"], item
        closed = (await client.get(path)).json()
        assert closed["state"] == "Closed" and closed["stop"] is None, closed
        bad = await client.patch(path, json={"expires": iso(600), "force": True})
        assert_error(bad, 400)
    assert sim.stop_requests == 1


async def test_patch_force_needs_a_boolean(op: Operator) -> None:
    async with op.client() as client:
        response = await client.patch(
            f"/transactions/{'0' * 8}-0000-4000-8000-{'0' * 12}",
            json={"state": "closed", "force": "yes"},
        )
    assert "force" in assert_error(response, 400)
