"""Whole charging sessions against a real server and simulated OCPP 1.6J chargers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support import (
    Server,
    Simulators,
    api_time,
    eventually,
    iso,
    online,
    poll_queue,
    poll_transaction,
    requested_port,
    start_session,
)


async def test_start_extend_expire(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    sim = await online(simulators, server, charger, meter_interval_s=0.5)
    async with operator.client() as client:
        created = await client.post(
            "/transactions",
            json={"port_uuid": charger.port, "expires": iso(10), "invoice_id": "inv-1"},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["href"] == f"/queue/{body['queue_uuid']}"

        opened = await poll_queue(client, body["queue_uuid"])
        assert opened["state"] == "Open"
        assert opened["transaction_uuid"] == body["transaction_uuid"]
        assert opened["invoice_id"] == "inv-1"
        assert sim.start_requests == 1
        assert requested_port(sim.requests(sim.dialect.start_request)[0]) == 1

        new_expiry = iso(12)
        extended = await client.patch(
            f"/transactions/{body['transaction_uuid']}", json={"expires": new_expiry}
        )
        assert extended.status_code == 204
        assert extended.content == b""

        # The stop goes out at the new expiry, not at the old one.
        await sim.wait_until(lambda: sim.stop_requests == 1, timeout=30)
        stop_seen = datetime.now(UTC)
        expires = api_time(new_expiry[:19])
        assert timedelta(0) <= stop_seen - expires < timedelta(seconds=10)

        closed = await poll_transaction(
            client, body["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        assert closed["expires"] == new_expiry[:19]
        assert closed["ended"] is not None
        assert closed["energy_wh"] is not None and closed["energy_wh"] > 0
        assert sim.stop_requests == 1


async def test_start_then_close(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        await poll_queue(client, created["queue_uuid"], until=lambda b: b.get("state") == "Open")

        patched = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        assert patched.status_code == 202
        stop = patched.json()
        assert stop["href"] == f"/queue/{stop['id']}"

        done = await poll_queue(client, stop["id"])
        assert done["state"] == "Closed"
        assert done["transaction_uuid"] == created["transaction_uuid"]
        assert sim.stop_requests == 1

        again = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        assert again.status_code == 403
        assert "already ended" in again.json()["message"]


async def test_charger_offline(server: Server) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        failed = await poll_queue(client, created["queue_uuid"])
        assert failed["status"] == "FAILURE"
        assert failed["id"] == created["queue_uuid"]
        assert "offline" in failed["reason"]
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Failed"


async def test_charger_rejects(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    await online(simulators, server, charger, accept_remote_start=False)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        failed = await poll_queue(client, created["queue_uuid"])
        assert failed["status"] == "FAILURE"
        assert "rejected" in failed["reason"]
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Failed"
        # The port is free again for the next attempt.
        retry = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert retry.status_code == 201


async def test_no_ev_before_timeout(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, ev_plugged_in=False)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        in_progress = (await client.get(f"/queue/{created['queue_uuid']}")).json()
        assert in_progress == {"id": created["queue_uuid"], "status": "IN PROGRESS"}
        failed = await poll_queue(client, created["queue_uuid"], timeout=30)
        assert failed["status"] == "FAILURE"
        assert "No EV" in failed["reason"]
        assert sim.start_requests == 1


async def test_charger_side_stop(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    # No meter ticks of its own: the energy is exactly what the test adds.
    sim = await online(simulators, server, charger, meter_interval_s=3600)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(600))
        await poll_queue(client, created["queue_uuid"])
        sim.connectors[1].meter_wh += 1500
        await sim.end_transaction(1, "EVDisconnected")
        closed = await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        assert closed["energy_wh"] == 1500
        assert sim.stop_requests == 0

        # The charger reports the port free after its StopTransaction has been answered.
        async def available() -> bool:
            return bool((await client.get("/ports")).json()[0]["status"] == "Available")

        await eventually(available)


async def test_second_start_on_busy_port_is_refused(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    await online(simulators, server, charger)
    async with operator.client() as client:
        first = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert first.status_code == 201
        second = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert second.status_code == 409
        assert first.json()["transaction_uuid"] in second.json()["message"]
