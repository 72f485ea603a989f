"""Charging profiles: the simulator's stacking of the profiles it holds (the spec's rules, read
off its applied limit), and the set_charging_profile / clear_charging_profile /
get_composite_schedule commands through the API to simulated chargers of both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from chargegate.domain.roles import Role
from chargegate.domain.times import format_ocpp
from chargegate.sim.charging_profiles import Profiles, read
from support import Operator, Simulators, assert_error, iso, online, poll_queue
from test_charger_commands import queued, send

Payload = dict[str, Any]
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def profile(
    profile_id: int,
    purpose: str,
    stack_level: int,
    periods: list[tuple[int, float]],
    unit: str = "A",
    **extra: Any,
) -> Payload:
    """A 1.6 csChargingProfiles, Absolute from NOW unless `extra` says otherwise."""
    schedule: Payload = {
        "chargingRateUnit": unit,
        "startSchedule": format_ocpp(NOW),
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": limit} for s, limit in periods],
    }
    schedule.update(extra.pop("schedule", {}))
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": extra.pop("kind", "Absolute"),
        "chargingSchedule": schedule,
        **extra,
    }


def held(*profiles: tuple[int, Payload]) -> Profiles:
    kept = Profiles()
    for port, each in profiles:
        assert kept.install(read(each, port, NOW), v16=True)
    return kept


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_the_lower_of_the_chargers_maximum_and_the_transactions_limit() -> None:
    profiles = held(
        (0, profile(1, "ChargePointMaxProfile", 0, [(0, 20.0)])),
        (0, profile(2, "TxDefaultProfile", 0, [(0, 16.0), (60, 25.0)])),
    )
    assert profiles.limit(1, at(1), started_at=None) == 16.0
    assert profiles.limit(1, at(61), started_at=None) == 20.0
    assert profiles.limit(0, at(1), started_at=None) == 20.0
    # W converted at 230 V and three phases.
    assert profiles.limit(1, at(1), started_at=None, unit="W") == 16.0 * 230 * 3


def test_a_tx_profile_replaces_tx_default_while_its_transaction_runs() -> None:
    profiles = held(
        (0, profile(2, "TxDefaultProfile", 0, [(0, 16.0)])),
        (1, profile(3, "TxProfile", 0, [(0, 10.0)])),
    )
    assert profiles.limit(1, at(1), started_at=NOW) == 10.0
    assert profiles.limit(1, at(1), started_at=None) == 16.0
    profiles.transaction_ended(1)
    assert profiles.limit(1, at(1), started_at=NOW) == 16.0


def test_the_highest_stack_level_running_wins() -> None:
    profiles = held(
        (1, profile(1, "TxDefaultProfile", 0, [(0, 16.0)])),
        (1, profile(2, "TxDefaultProfile", 5, [(0, 6.0)], schedule={"duration": 30})),
    )
    assert profiles.limit(1, at(1), started_at=None) == 6.0
    # Its duration over, the lower level's applies again.
    assert profiles.limit(1, at(31), started_at=None) == 16.0
    assert profiles.limit(2, at(1), started_at=None) is None


def test_a_port_profile_wins_a_tie_with_port_zero() -> None:
    profiles = held(
        (0, profile(1, "TxDefaultProfile", 2, [(0, 16.0)])),
        (1, profile(2, "TxDefaultProfile", 2, [(0, 8.0)])),
    )
    assert profiles.limit(1, at(1), started_at=None) == 8.0
    assert profiles.limit(2, at(1), started_at=None) == 16.0


def test_relative_and_recurring_schedules() -> None:
    started = at(100)
    profiles = held(
        (1, profile(1, "TxDefaultProfile", 0, [(0, 6.0), (50, 12.0)], kind="Relative")),
        (
            1,
            profile(
                2,
                "TxDefaultProfile",
                1,
                [(0, 20.0), (3600, 0.0)],
                kind="Recurring",
                recurrencyKind="Daily",
                schedule={"duration": 7200},
            ),
        ),
    )
    # The daily window (two hours from noon) covers the Relative one.
    assert profiles.limit(1, at(120), started_at=started) == 20.0
    assert profiles.limit(1, at(3700), started_at=started) == 0.0
    assert profiles.limit(1, at(7300), started_at=started) == 12.0
    assert profiles.limit(1, at(86400 + 10), started_at=started) == 20.0


def test_validity_and_replacement() -> None:
    later = profile(1, "TxDefaultProfile", 0, [(0, 16.0)], validFrom=format_ocpp(at(60)))
    profiles = held((1, later))
    assert profiles.limit(1, at(1), started_at=None) is None
    assert profiles.limit(1, at(61), started_at=None) == 16.0
    # 1.6: one of the same purpose and stack level on the port replaces it; 2.0.1 refuses.
    other = read(profile(9, "TxDefaultProfile", 0, [(0, 10.0)]), 1, NOW)
    assert not profiles.install(other, v16=False)
    assert profiles.install(other, v16=True)
    assert [p.id for p in profiles.installed] == [9]
    assert profiles.clear(None, 1, "TxDefaultProfile", None)
    assert not profiles.clear(9, None, None, None)


def test_the_composite_schedule() -> None:
    profiles = held(
        (0, profile(1, "ChargePointMaxProfile", 0, [(0, 20.0), (600, 10.0)])),
        (0, profile(2, "TxDefaultProfile", 0, [(0, 16.0), (300, 32.0)])),
    )
    periods = profiles.composite(1, NOW, 900, None, "A", fallback=32.0)
    assert periods == [
        {"startPeriod": 0, "limit": 16.0},
        {"startPeriod": 300, "limit": 20.0},
        {"startPeriod": 600, "limit": 10.0},
    ]
    assert profiles.composite(1, at(-100), 50, None, "A", fallback=32.0) == [
        {"startPeriod": 0, "limit": 32.0}
    ]


# -- through the API --------------------------------------------------------------------------


def max_purpose(version: str) -> str:
    return "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"


async def command(op: Operator, charge_point_id: str, action: str, **params: Any) -> Payload:
    async with op.client() as client:
        queue_uuid = await queued(client, charge_point_id, action=action, params=params)
        return await poll_queue(client, queue_uuid)


async def test_set_read_and_clear_profiles(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger, smart_charging=True)
    version = simulators.ocpp_version
    cp = charger.charge_point_id
    done = await command(
        op, cp, "set_charging_profile", purpose=max_purpose(version), unit="A", limit=20
    )
    assert done["status"] == "SUCCESS" and done["result"] == {"status": "Accepted"}, done
    done = await command(
        op,
        cp,
        "set_charging_profile",
        purpose="TxDefaultProfile",
        unit="W",
        port=2,
        stack_level=1,
        profile_id=7,
        periods=[{"start_s": 0, "limit": 6900}, {"start_s": 3600, "limit": 0}],
    )
    assert done["status"] == "SUCCESS", done
    assert sim.applied_limit(1) == 20.0
    assert sim.applied_limit(2) == 10.0  # 6900 W at 230 V, three phases
    assert sim.applied_limit(2, "W") == 6900.0
    composite = await command(op, cp, "get_composite_schedule", port=2, duration_s=7200)
    assert composite["status"] == "SUCCESS", composite
    answer = composite["result"]
    schedule = answer["chargingSchedule"] if version == "1.6" else answer["schedule"]
    periods = [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]]
    assert periods[0] == (0, 10.0) and periods[-1][1] == 0.0, periods
    cleared = await command(op, cp, "clear_charging_profile", profile_id=7)
    assert cleared["status"] == "SUCCESS", cleared
    assert sim.applied_limit(2) == 20.0
    again = await command(op, cp, "clear_charging_profile", profile_id=7)
    assert again["status"] == "FAILURE" and "Unknown" in again["reason"], again


async def test_a_charger_without_smart_charging_refuses(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    refusal = "NotSupported" if simulators.ocpp_version == "1.6" else "Rejected"
    await online(
        simulators, op.server, charger, smart_charging=False, smart_charging_refusal=refusal
    )
    done = await command(
        op,
        charger.charge_point_id,
        "set_charging_profile",
        purpose="TxDefaultProfile",
        unit="A",
        limit=6,
    )
    assert done["status"] == "FAILURE" and refusal in done["reason"], done


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"purpose": "TxDefaultProfile", "unit": "A"}, "either limit"),
        ({"purpose": "TxProfile", "unit": "A", "limit": 6}, "port 1 or more"),
        ({"purpose": "TxDefaultProfile", "unit": "kW", "limit": 6}, "unit must be one of"),
        ({"purpose": "TxDefaultProfile", "unit": "A", "limit": -1}, "limit must be"),
    ],
)
async def test_bad_profiles_are_refused(op: Operator, params: Payload, message: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        response = await send(
            client,
            charger.charge_point_id,
            {"action": "set_charging_profile", "params": params},
        )
    assert message in assert_error(response, 400)


async def test_a_purpose_of_the_other_version_is_refused(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger, smart_charging=True)
    other = (
        "ChargingStationMaxProfile" if simulators.ocpp_version == "1.6" else "ChargePointMaxProfile"
    )
    async with op.client() as client:
        response = await send(
            client,
            charger.charge_point_id,
            {
                "action": "set_charging_profile",
                "params": {"purpose": other, "unit": "A", "limit": 6},
            },
        )
    assert f"OCPP {simulators.ocpp_version}" in assert_error(response, 400)


# -- kept, listed, re-sent ----------------------------------------------------------------------


async def listed(op: Operator, charge_point_id: str, **query: Any) -> list[Payload]:
    async with op.client() as client:
        response = await client.get(f"/chargers/{charge_point_id}/charging_profiles", params=query)
    assert response.status_code == 200, response.text
    found: list[Payload] = response.json()
    return found


async def test_profiles_kept_listed_cleared_and_resent_after_a_reboot(
    op: Operator, simulators: Simulators
) -> None:
    """The charger's own maximum and a TxDefaultProfile are kept once accepted (a refused one
    is not), listed newest id first, page by page; a charger that loses them in a reboot gets
    them again after its boot; a cleared one is forgotten."""
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger, smart_charging=True, keeps_profiles=False)
    version = simulators.ocpp_version
    cp = charger.charge_point_id
    await sim.wait_until(lambda: sim.count("GetConfiguration") + sim.count("GetVariables") > 0)
    for params in (
        {"purpose": max_purpose(version), "unit": "A", "limit": 20, "profile_id": 1},
        {"purpose": "TxDefaultProfile", "unit": "A", "limit": 10, "port": 2, "profile_id": 2},
    ):
        assert (await command(op, cp, "set_charging_profile", **params))["status"] == "SUCCESS"
    # Refused (a port the charger lacks): not kept.
    refused = await command(
        op, cp, "set_charging_profile", purpose="TxDefaultProfile", unit="A", limit=6, port=7
    )
    assert refused["status"] == "FAILURE", refused
    kept = await listed(op, cp)
    assert [(p["profile_id"], p["port"], p["purpose"]) for p in kept] == [
        (2, 2, "TxDefaultProfile"),
        (1, 0, max_purpose(version)),
    ]
    assert kept[0]["params"]["periods"] == [{"start_s": 0, "limit": 10.0}], kept
    assert kept[0]["stack_level"] == 0, kept
    async with op.client() as client:
        first = await client.get(f"/chargers/{cp}/charging_profiles", params={"limit": 1})
        assert [p["profile_id"] for p in first.json()] == [2]
        rest = await client.get(
            f"/chargers/{cp}/charging_profiles",
            params={"limit": 1, "cursor": first.headers["X-Next-Cursor"]},
        )
        assert [p["profile_id"] for p in rest.json()] == [1]
    sets = sim.count("SetChargingProfile")
    reset = "hard" if version == "1.6" else "immediate"
    assert (await command(op, cp, "reset", type=reset))["status"] == "SUCCESS"
    await sim.wait_until(lambda: sim.boots == 2)
    await sim.wait_until(lambda: sim.count("SetChargingProfile") == sets + 2)
    await sim.wait_until(lambda: sim.applied_limit(2) == 10.0 and sim.applied_limit(1) == 20.0)
    cleared = await command(op, cp, "clear_charging_profile", profile_id=2)
    assert cleared["status"] == "SUCCESS", cleared
    assert [p["profile_id"] for p in await listed(op, cp)] == [1]


async def test_profiles_of_another_operator_and_a_sessions_key(op: Operator) -> None:
    charger = await op.add_charger()
    other = await op.server.operator()
    async with other.client() as client:
        path = f"/chargers/{charger.charge_point_id}/charging_profiles"
        assert_error(await client.get(path), 404)
        body = {
            "action": "set_charging_profile",
            "params": {"purpose": "TxDefaultProfile", "unit": "A", "limit": 6},
        }
        assert_error(await send(client, charger.charge_point_id, body), 404)
    sessions_key = await provisioning.create_api_key(op.server.settings, op.name, Role.SESSIONS)
    async with httpx.AsyncClient(
        base_url=op.server.api, headers={"x-api-key": sessions_key}, timeout=30
    ) as client:
        assert "'sessions'" in assert_error(
            await client.get(f"/chargers/{charger.charge_point_id}/charging_profiles"), 403
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"max_current_a": 16, "max_power_w": 7000}, "not both"),
        ({"max_current_a": 0}, "more than 0"),
        ({"max_power_w": "lots"}, "max_power_w must be a number"),
    ],
)
async def test_a_start_with_a_bad_limit_is_refused(
    op: Operator, extra: Payload, message: str
) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        body = {"port_uuid": charger.port, "expires": iso(600), **extra}
        response = await client.post("/transactions", json=body)
        assert message in assert_error(response, 400)
        started = await client.get("/transactions", params={"port_uuid": charger.port, "limit": 0})
        assert "No transactions" in assert_error(started, 404)


async def test_a_tx_profile_needs_a_running_transaction(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger, smart_charging=True)
    async with op.client() as client:
        body = {
            "action": "set_charging_profile",
            "params": {"purpose": "TxProfile", "unit": "A", "limit": 6, "port": 1},
        }
        assert "no running transaction" in assert_error(
            await send(client, charger.charge_point_id, body), 409
        )
        low = {**body, "params": {**body["params"], "stack_level": 2}}
        assert "stack_level is 3 or more" in assert_error(
            await send(client, charger.charge_point_id, low), 400
        )
