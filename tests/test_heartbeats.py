"""A Heartbeat's answer does not wait for the database: `last_seen_at` is informative (whether
a charger is online comes from its socket), and on SQLite its write would queue behind every
other write on the one writer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from support import Server, eventually, holding_the_writer, raw_charger


@pytest.mark.server_env({"CHARGEGATE_SEEN_WRITE_INTERVAL_S": "0"})
@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_heartbeat_is_answered_while_its_write_waits(
    server: Server, subprotocol: str
) -> None:
    operator = await server.operator()
    async with raw_charger(operator, subprotocol) as (raw, charger), operator.client() as client:
        path = f"/chargers/{charger.charge_point_id}"
        connected = (await client.get(path)).json()["last_seen"]
        assert connected is not None

        # The API shows whole seconds: a heartbeat a second later is told from the connection.
        async def next_second() -> bool:
            return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S") > connected

        await eventually(next_second)
        async with holding_the_writer(server, charger.charge_point_id):
            answer = await raw.call("Heartbeat", {})  # within RawCharger's 10 s
            assert answer["currentTime"]
            assert (await client.get(path)).json()["last_seen"] == connected

        async def written() -> bool:
            return str((await client.get(path)).json()["last_seen"]) > connected

        await eventually(written)


WAITING = "another process holds the database's write lock"


@pytest.mark.sqlite_only  # PostgreSQL has no database-wide write lock
@pytest.mark.server_env({"CHARGEGATE_SEEN_WRITE_INTERVAL_S": "0"})
async def test_a_write_waiting_for_another_process_leaves_the_node_answering(
    server: Server,
) -> None:
    """The writer connection runs its statements on the event loop's thread: waiting for the
    write lock that another process (the CLI) holds must happen beside the loop, not on it."""
    operator = await server.operator()
    async with (
        raw_charger(operator, "ocpp1.6") as (raw, charger),
        operator.client() as client,
        holding_the_writer(server, charger.charge_point_id),
    ):
        await raw.call("Heartbeat", {})  # its last_seen_at write now waits for the lock

        async def waiting() -> bool:
            return WAITING in server.log()

        await eventually(waiting)
        assert (await raw.call("Heartbeat", {}))["currentTime"]
        shown = await client.get(f"/chargers/{charger.charge_point_id}")
        assert shown.status_code == 200, shown.text
