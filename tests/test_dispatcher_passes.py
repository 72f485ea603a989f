"""The dispatcher's passes: a wake-up with nothing to claim takes no write transaction (on
SQLite the one writer every other write waits for); a command to send is still claimed; an
expiry's stops for chargers connected here are written claimed, and sent without a claim."""

from __future__ import annotations

from support import (
    Server,
    Simulators,
    eventually,
    iso,
    metric,
    online,
    poll_queue,
    poll_transaction,
    start_session,
)

IDLE = 'chargegate_dispatcher_passes_total{kind="idle"}'
CLAIM = 'chargegate_dispatcher_passes_total{kind="claim"}'
TAKEN = 'chargegate_dispatcher_passes_total{kind="taken"}'


async def test_wake_ups_with_nothing_to_claim_take_no_write_pass(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    # Each charger's connection wakes the dispatcher: its commands (none here) may go now.
    chargers = [await operator.add_charger() for _ in range(3)]
    for charger in chargers:
        await online(simulators, server, charger)
    idle = await metric(server, IDLE)

    async def passed_again() -> bool:
        return await metric(server, IDLE) > idle

    await eventually(passed_again)
    assert await metric(server, CLAIM) == 0

    async with operator.client() as client:
        queued = await client.post(
            f"/chargers/{chargers[0].charge_point_id}/commands", json={"action": "clear_cache"}
        )
        assert queued.status_code == 202, queued.text
        done = await poll_queue(client, queued.json()["id"], timeout=60)
    assert done["status"] == "SUCCESS", done
    assert await metric(server, CLAIM) >= 1


async def test_an_expiry_stop_is_sent_as_written_without_a_claim(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port)
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened.get("state") == "Open", opened
        assert await metric(server, TAKEN) == 0
        uuid = created["transaction_uuid"]
        patched = await client.patch(f"/transactions/{uuid}", json={"expires": iso(1)})
        assert patched.status_code == 204, patched.text
        await poll_transaction(client, uuid, lambda tx: tx["state"] == "Closed")
    assert await metric(server, TAKEN) == 1
    assert sim.stop_requests == 1
