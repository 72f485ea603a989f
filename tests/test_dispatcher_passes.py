"""The dispatcher's passes: a wake-up with nothing to claim takes no write transaction (on
SQLite the one writer every other write waits for); a command to send is still claimed."""

from __future__ import annotations

from support import Server, Simulators, eventually, metric, online, poll_queue

IDLE = 'chargegate_dispatcher_passes_total{kind="idle"}'
CLAIM = 'chargegate_dispatcher_passes_total{kind="claim"}'


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
