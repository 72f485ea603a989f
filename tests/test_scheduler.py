"""The scheduler's passes: a wake-up that finds nothing due takes no write transaction (on
SQLite the one writer every other write waits for); something due is still acted on."""

from __future__ import annotations

import pytest

from support import (
    Server,
    Simulators,
    eventually,
    expire_in,
    metric,
    online,
    open_session,
    poll_queue,
    poll_transaction,
    stop_session,
)

IDLE = 'chargegate_scheduler_passes_total{kind="idle"}'
WRITE = 'chargegate_scheduler_passes_total{kind="write"}'


# Deadlines and answers' timeouts far enough away that a loaded machine meets them: nothing
# falls due unless the test makes it.
@pytest.mark.server_env(
    {
        "CHARGEGATE_START_TIMEOUT_S": "120",
        "CHARGEGATE_STOP_CONFIRM_S": "120",
        "CHARGEGATE_CALL_TIMEOUT_S": "60",
    }
)
async def test_wake_ups_with_nothing_due_take_no_write_pass(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    await online(simulators, server, charger)
    async with operator.client() as client:
        # Every step wakes the scheduler: the start, the charger's report of it, each command,
        # the stop and the charger's report of the ended transaction.
        session = await open_session(client, charger.port_uuids[0])
        for _ in range(5):
            queued = await client.post(
                f"/chargers/{charger.charge_point_id}/commands", json={"action": "clear_cache"}
            )
            assert queued.status_code == 202, queued.text
            done = await poll_queue(client, queued.json()["id"], timeout=90)
            assert done["status"] == "SUCCESS", done
        await stop_session(client, session["transaction_uuid"])
        idle = await metric(server, IDLE)

        async def passed_again() -> bool:
            return await metric(server, IDLE) > idle

        # A pass after the last wake-up: whatever the wake-ups caused has run.
        await eventually(passed_again)
        assert idle > 0
        assert await metric(server, WRITE) == 0

        # Something due: an expiry. The write pass acts on it.
        expiring = await open_session(client, charger.port_uuids[1])
        await expire_in(client, expiring["transaction_uuid"], 5)
        closed = await poll_transaction(
            client, expiring["transaction_uuid"], lambda t: t["state"] == "Closed", timeout=60
        )
        assert closed["state"] == "Closed", closed
        assert await metric(server, WRITE) >= 1
