"""The OCA 1.6 smart charging cases, from the CSMS side (TC_056 TxDefaultProfile, TC_057
TxProfile on a running transaction, TC_059 a remote start with a profile, TC_066 composite
schedule, TC_067 clearing profiles), and the same steps in 2.0.1 (K01, K08, K10, F01). Each runs
against our simulator and the independent strict-schema charger (tests/js/strict_charger.mjs
--smart-charging), which validates every CALL we send against the version's JSON schemas."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chargegate.sim.charger import SimulatedCharger
from support import Charger, Operator, iso, open_session, poll_queue
from test_charger_commands import queued
from test_independent_charger import V16, V201, NodeCharger, running

Payload = dict[str, Any]
TX_DEFAULT = "TxDefaultProfile"
CASES = pytest.mark.parametrize(
    ("kind", "version"),
    [("sim", "1.6"), ("sim", "2.0.1"), ("strict", "1.6"), ("strict", "2.0.1")],
)


@dataclass
class Station:
    version: str
    calls: Callable[[str], list[Payload]]
    # The simulator, to read the limit it applies (None: the strict charger).
    sim: SimulatedCharger | None

    @property
    def v16(self) -> bool:
        return self.version == "1.6"

    def profile_sent(self) -> Payload:
        """The last SetChargingProfile's profile."""
        call = self.calls("SetChargingProfile")[-1]
        return dict(call["csChargingProfiles" if self.v16 else "chargingProfile"])


@contextlib.asynccontextmanager
async def station(
    op: Operator, charger: Charger, kind: str, version: str
) -> AsyncIterator[Station]:
    if kind == "sim":
        sim = SimulatedCharger(
            url=op.server.ws_url,
            charge_point_id=charger.charge_point_id,
            connectors=len(charger.port_uuids),
            ocpp_version=version,
            smart_charging=True,
        )
        sim.start()
        try:
            await sim.wait_until(lambda: sim.online)
            await sim.wait_until(
                lambda: sim.count("GetConfiguration") + sim.count("GetVariables") > 0
            )
            yield Station(version, sim.requests, sim)
        finally:
            await sim.power_off()
        return
    node = NodeCharger(op.server, charger, V16 if version == "1.6" else V201, "--smart-charging")
    async with running(node):

        def calls(action: str) -> list[Payload]:
            return [event["params"] for event in node.of("call", action)]

        yield Station(version, calls, None)


async def command(
    client: httpx.AsyncClient, charger: Charger, action: str, **params: Any
) -> Payload:
    queue_uuid = await queued(client, charger.charge_point_id, action=action, params=params)
    return await poll_queue(client, queue_uuid)


async def set_profile(client: httpx.AsyncClient, charger: Charger, **params: Any) -> Payload:
    """set_charging_profile, which the charger accepts."""
    return accepted(await command(client, charger, "set_charging_profile", **params))


def accepted(item: Payload) -> Payload:
    assert item["status"] == "SUCCESS", item
    assert item["result"]["status"] == "Accepted", item
    result: Payload = item["result"]
    return result


def max_purpose(version: str) -> str:
    return "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"


def schedule_of(cp: Station, answer: Payload) -> Payload:
    """The composite schedule in a GetCompositeSchedule answer."""
    schedule: Payload = answer["chargingSchedule"] if cp.v16 else answer["schedule"]
    return schedule


@CASES
async def test_tc_056_tx_default_profile(op: Operator, kind: str, version: str) -> None:
    """A default schedule for new transactions: SetChargingProfile TxDefaultProfile, Accepted;
    the charger applies it on the port."""
    charger = await op.add_charger()
    async with station(op, charger, kind, version) as cp, op.client() as client:
        await set_profile(
            client,
            charger,
            purpose="TxDefaultProfile",
            port=1,
            unit="A",
            periods=[{"start_s": 0, "limit": 16}, {"start_s": 3600, "limit": 10}],
        )
        profile = cp.profile_sent()
        assert profile["chargingProfilePurpose"] == "TxDefaultProfile", profile
        assert "transactionId" not in profile, profile
        assert cp.calls("SetChargingProfile")[-1]["connectorId" if cp.v16 else "evseId"] == 1
        if cp.sim is not None:
            assert cp.sim.applied_limit(1) == 16.0


@CASES
async def test_tc_057_tx_profile(op: Operator, kind: str, version: str) -> None:
    """A schedule for a running transaction: TxProfile naming the transaction, Absolute with
    validFrom, validTo, startSchedule and duration, no recurrencyKind; Accepted."""
    charger = await op.add_charger()
    async with station(op, charger, kind, version) as cp, op.client() as client:
        created = await open_session(client, charger.port)
        session = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        await set_profile(
            client,
            charger,
            purpose="TxProfile",
            port=1,
            unit="A",
            limit=10,
            valid_from=iso(-5),
            valid_to=iso(3600),
            start_schedule=iso(-5),
            duration_s=3600,
        )
        profile = cp.profile_sent()
        assert profile["chargingProfilePurpose"] == "TxProfile", profile
        assert profile["chargingProfileKind"] == "Absolute", profile
        assert "recurrencyKind" not in profile, profile
        schedule = profile["chargingSchedule"] if cp.v16 else profile["chargingSchedule"][0]
        assert {"validFrom", "validTo"} <= set(profile), profile
        assert {"startSchedule", "duration"} <= set(schedule), schedule
        assert profile["stackLevel"] >= 3, profile  # above the start's and a balancer's
        if cp.v16:
            start = cp.calls("RemoteStartTransaction")[-1]
            assert start["connectorId"] == 1
            assert isinstance(profile["transactionId"], int), profile
        else:
            assert profile["transactionId"], profile
        if cp.sim is not None:
            running_id = cp.sim.connectors[1].transaction_id
            assert str(profile["transactionId"]) == str(running_id), (profile, running_id)
            assert cp.sim.applied_limit(1) == 10.0
        await client.patch(f"/transactions/{session['transaction_uuid']}", json={"state": "closed"})


@CASES
async def test_tc_059_remote_start_with_a_charging_profile(
    op: Operator, kind: str, version: str
) -> None:
    """POST /transactions with max_current_a: the start carries a TxProfile with that limit
    (and the fail-safe cut at expires); the charger follows it, as its composite schedule
    shows."""
    charger = await op.add_charger()
    async with station(op, charger, kind, version) as cp, op.client() as client:
        created = await open_session(client, charger.port, max_current_a=12.5)
        start = cp.calls("RemoteStartTransaction" if cp.v16 else "RequestStartTransaction")[-1]
        profile = start["chargingProfile"]
        assert profile["chargingProfilePurpose"] == "TxProfile", profile
        assert "transactionId" not in profile, profile
        schedule = profile["chargingSchedule"] if cp.v16 else profile["chargingSchedule"][0]
        assert schedule["chargingRateUnit"] == "A", schedule
        assert schedule["chargingSchedulePeriod"][0]["limit"] == 12.5, schedule
        assert schedule["chargingSchedulePeriod"][-1]["limit"] == 0, schedule
        answer = accepted(
            await command(
                client, charger, "get_composite_schedule", port=1, duration_s=300, unit="A"
            )
        )
        composite = schedule_of(cp, answer)
        assert composite["duration"] == 300 and composite["chargingRateUnit"] == "A", answer
        if cp.sim is not None:
            assert composite["chargingSchedulePeriod"][0]["limit"] == 12.5, composite
            assert cp.sim.applied_limit(1) == 12.5
        assert cp.calls("GetCompositeSchedule")[-1] == (
            {"connectorId": 1, "duration": 300, "chargingRateUnit": "A"}
            if cp.v16
            else {"evseId": 1, "duration": 300, "chargingRateUnit": "A"}
        )
        await client.patch(f"/transactions/{created['transaction_uuid']}", json={"state": "closed"})


@CASES
async def test_tc_066_get_composite_schedule(op: Operator, kind: str, version: str) -> None:
    """GetCompositeSchedule with the configured connector, duration and rate unit; the
    charger's schedule is the queue item's result."""
    charger = await op.add_charger()
    async with station(op, charger, kind, version) as cp, op.client() as client:
        await set_profile(
            client,
            charger,
            purpose=max_purpose(version),
            unit="W",
            limit=11000,
        )
        answer = accepted(
            await command(
                client, charger, "get_composite_schedule", port=1, duration_s=400, unit="W"
            )
        )
        composite = schedule_of(cp, answer)
        assert composite["duration"] == 400 and composite["chargingRateUnit"] == "W", answer
        assert composite["chargingSchedulePeriod"][0]["limit"] == 11000, composite


@CASES
async def test_tc_067_clear_charging_profile(op: Operator, kind: str, version: str) -> None:
    """Three profiles set (the whole charger's on connector 0 without a transactionId), then
    cleared by id, by criteria, and all the rest: each Accepted."""
    charger = await op.add_charger()
    async with station(op, charger, kind, version) as cp, op.client() as client:
        created = await open_session(client, charger.port)
        await set_profile(
            client,
            charger,
            purpose=max_purpose(version),
            unit="A",
            limit=32,
            stack_level=3,
            profile_id=101,
        )
        first = cp.profile_sent()
        assert cp.calls("SetChargingProfile")[-1]["connectorId" if cp.v16 else "evseId"] == 0
        assert first["stackLevel"] == 3 and "transactionId" not in first, first
        await set_profile(
            client,
            charger,
            purpose="TxDefaultProfile",
            port=1,
            unit="A",
            limit=16,
            profile_id=102,
        )
        await set_profile(
            client,
            charger,
            purpose="TxProfile",
            port=1,
            unit="A",
            limit=8,
            profile_id=103,
        )
        if cp.sim is not None:
            assert cp.sim.applied_limit(1) == 8.0
        accepted(await command(client, charger, "clear_charging_profile", profile_id=103))
        if cp.sim is not None:
            # The start's own TxProfile (the fail-safe) applies again.
            assert cp.sim.applied_limit(1) == 32.0
        accepted(
            await command(
                client, charger, "clear_charging_profile", port=1, purpose="TxDefaultProfile"
            )
        )
        accepted(await command(client, charger, "clear_charging_profile"))
        if cp.sim is not None:
            # Clearing all took the start's own TxProfile too: chargegate sends it again.
            sim = cp.sim
            await sim.wait_until(lambda: sim.applied_limit(1) is not None)
            again = sim.requests("SetChargingProfile")[-1][
                "csChargingProfiles" if cp.v16 else "chargingProfile"
            ]
            assert again["stackLevel"] == 1 and again["chargingProfilePurpose"] == "TxProfile"
        clears = cp.calls("ClearChargingProfile")
        if cp.v16:
            assert clears == [
                {"id": 103},
                {"connectorId": 1, "chargingProfilePurpose": TX_DEFAULT},
                {},
            ]
        else:
            assert clears == [
                {"chargingProfileId": 103},
                {
                    "chargingProfileCriteria": {
                        "evseId": 1,
                        "chargingProfilePurpose": "TxDefaultProfile",
                    }
                },
                {},
            ]
        await client.patch(f"/transactions/{created['transaction_uuid']}", json={"state": "closed"})
