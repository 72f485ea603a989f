"""Chargers that go offline mid-session, and the fail-safe TxProfile that ends charging at
`expires` even when the backend cannot reach the charger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chargegate.sim.charger import SimulatedCharger
from support import (
    Server,
    Simulators,
    api_time,
    eventually,
    iso,
    online,
    poll_queue,
    poll_transaction,
    start_session,
)


async def port_online(client: httpx.AsyncClient) -> bool:
    ports = (await client.get("/ports")).json()
    return bool(ports[0]["online"])


async def test_expiry_while_offline_is_sent_on_reconnect(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    expires = iso(8)
    async with operator.client() as client:
        created = await start_session(client, charger.port, expires)
        await poll_queue(client, created["queue_uuid"])
        await sim.stop()  # the charger loses its network mid-session

        async def offline() -> bool:
            return not await port_online(client)

        await eventually(offline)
        await asyncio.sleep(max(0.0, (api_time(expires[:19]) - datetime.now(UTC)).total_seconds()))
        await asyncio.sleep(1.5)
        assert sim.stop_requests == 0
        tx = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert tx["state"] == "Open"  # nobody knows it stopped: it did not

        back = datetime.now(UTC).replace(microsecond=0)
        sim.start()
        await sim.wait_until(lambda: sim.stop_requests == 1, timeout=30)
        closed = await poll_transaction(
            client, created["transaction_uuid"], lambda body: body["state"] == "Closed"
        )
        # The charger's own stop time: after it came back, not the expiry.
        assert api_time(closed["ended"]) >= back
        assert await port_online(client)
    assert sim.stop_requests == 1


async def wait_for_probe(sim: SimulatedCharger) -> None:
    await sim.wait_until(lambda: sim.count("GetConfiguration") + sim.count("GetVariables") > 0)
    await asyncio.sleep(0.3)  # its answer is recorded


def zero_at(profile: dict[str, Any]) -> datetime:
    """When the schedule's limit drops to 0 A."""
    schedule = profile["chargingSchedule"]
    if isinstance(schedule, list):
        schedule = schedule[0]
    periods = schedule["chargingSchedulePeriod"]
    assert periods[-1]["limit"] == 0, periods
    assert all(period["limit"] > 0 for period in periods[:-1]), periods
    start = datetime.fromisoformat(schedule["startSchedule"])
    return start + timedelta(seconds=periods[-1]["startPeriod"])


def off_by_s(profile: dict[str, Any], expires: str) -> float:
    """How far from `expires` (as the API was sent it) the profile stops the energy. Measured
    from the schedule's own start, not from when the test asked: a slow run moves that start."""
    return abs((zero_at(profile) - api_time(expires[:19])).total_seconds())


async def test_fail_safe_profile_follows_expires(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, smart_charging=True, meter_interval_s=0.2)
    await wait_for_probe(sim)
    async with operator.client() as client:
        expires = iso(30)
        created = await start_session(client, charger.port, expires)
        await poll_queue(client, created["queue_uuid"])
        [start_request] = sim.requests(sim.dialect.start_request)
        assert off_by_s(start_request["chargingProfile"], expires) <= 1

        new_expiry = iso(4)
        extended = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"expires": new_expiry}
        )
        assert extended.status_code == 204
        await sim.wait_until(lambda: sim.count("SetChargingProfile") == 1)
        [update] = sim.requests("SetChargingProfile")
        profile = update.get("csChargingProfiles") or update["chargingProfile"]
        assert profile["chargingProfilePurpose"] == "TxProfile"
        assert "transactionId" in profile
        assert off_by_s(profile, new_expiry) <= 1

    # The backend is gone for good: the charger still stops delivering energy at expires.
    server.kill()
    connector = sim.connectors[1]
    until_expiry = (api_time(new_expiry[:19]) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, until_expiry) + 1.0)
    assert connector.status == "SuspendedEVSE"
    frozen = connector.meter_wh
    await asyncio.sleep(1.0)
    assert connector.meter_wh == frozen
    assert connector.transaction_id is not None  # still a session, just no energy


async def test_no_profile_for_a_charger_without_smart_charging(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, smart_charging=False)
    await wait_for_probe(sim)
    async with operator.client() as client:
        created = await start_session(client, charger.port, iso(30))
        await poll_queue(client, created["queue_uuid"])
        [start_request] = sim.requests(sim.dialect.start_request)
        assert "chargingProfile" not in start_request
        extended = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"expires": iso(3)}
        )
        assert extended.status_code == 204
        # The stop at expiry is then the only safeguard, and it still happens.
        await sim.wait_until(lambda: sim.stop_requests == 1, timeout=30)
    assert sim.count("SetChargingProfile") == 0
