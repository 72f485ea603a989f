"""How the simulated charger takes charging profiles (1.6 SmartCharging, 2.0.1 K): it keeps them
(sim.charging_profiles) and its meter honours the limit they make. A charger without smart
charging answers them with its `smart_charging_refusal` (None: it lacks the messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocpp.v16.enums import (
    Action,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)

from chargegate.domain.times import format_ocpp, utcnow
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.sim.charging_profiles import CHARGER_MAX, TX, TX_DEFAULT, read

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger

# The answers are worded with 1.6's enums: 2.0.1's (ChargingProfileStatusEnumType,
# ClearChargingProfileStatusEnumType, GenericStatusEnumType) use the same words, and so do the
# actions.

# The purposes a charger takes in SetChargingProfile (2.0.1's ChargingStationExternalConstraints
# are the station's own to set).
_TAKEN = CHARGER_MAX | {TX_DEFAULT, TX}


def take(sim: SimulatedCharger, port: int, profile: Payload, with_start: bool = False) -> bool:
    """Install a profile on a port (0: the charger), as the spec allows: the whole charger's on
    port 0 only; a TxProfile on a port whose transaction runs, or that comes with its start."""
    v16 = sim.dialect.subprotocol == "ocpp1.6"
    if port != 0 and port not in sim.connectors:
        return False
    installed = read(profile, port, utcnow())
    if installed.unit not in sim.rate_units or installed.purpose not in _TAKEN:
        return False
    if (installed.purpose in CHARGER_MAX) != (port == 0) and installed.purpose != TX_DEFAULT:
        return False
    if installed.purpose == TX and not with_start:
        running = sim.connectors[port].transaction_id
        named = installed.transaction_id
        # 2.0.1 names the transaction always (K01.FR.03); 1.6 may leave it out.
        if running is None or (named is None and not v16):
            return False
        if named is not None and str(named) != str(running):
            return False
    return sim.charging_profiles.install(installed, v16)


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    v16 = sim.dialect.subprotocol == "ocpp1.6"

    async def set_charging_profile(payload: Payload) -> Payload:
        sim.received.append((Action.set_charging_profile, payload))
        if not sim.smart_charging:
            await sim.notify()
            return {"status": sim.smart_charging_refusal}
        port = int(payload["connectorId"] if v16 else payload["evseId"])
        taken = take(sim, port, payload["csChargingProfiles" if v16 else "chargingProfile"])
        # After taking it: a test waiting for the limit it makes sees it at once.
        await sim.notify()
        status = ChargingProfileStatus.accepted if taken else ChargingProfileStatus.rejected
        return {"status": status}

    async def clear_charging_profile(payload: Payload) -> Payload:
        sim.received.append((Action.clear_charging_profile, payload))
        criteria = payload if v16 else payload.get("chargingProfileCriteria", {})
        cleared = sim.smart_charging and sim.charging_profiles.clear(
            payload.get("id" if v16 else "chargingProfileId"),
            criteria.get("connectorId" if v16 else "evseId"),
            criteria.get("chargingProfilePurpose"),
            criteria.get("stackLevel"),
        )
        await sim.notify()
        status = (
            ClearChargingProfileStatus.accepted if cleared else ClearChargingProfileStatus.unknown
        )
        return {"status": status}

    async def get_composite_schedule(payload: Payload) -> Payload:
        sim.received.append((Action.get_composite_schedule, payload))
        await sim.notify()
        port = int(payload["connectorId" if v16 else "evseId"])
        if not sim.smart_charging or (port != 0 and port not in sim.connectors):
            return {"status": GetCompositeScheduleStatus.rejected}
        unit = payload.get("chargingRateUnit", ChargingRateUnitType.amps)
        now = utcnow()
        duration = int(payload["duration"])
        periods = sim.charging_profiles.composite(
            port, now, duration, sim.started_at(port), unit, sim.max_limit(unit)
        )
        schedule: Payload = {"duration": duration, "chargingRateUnit": unit}
        if v16:
            schedule.update(startSchedule=format_ocpp(now), chargingSchedulePeriod=periods)
            return {
                "status": GetCompositeScheduleStatus.accepted,
                "connectorId": port,
                "scheduleStart": format_ocpp(now),
                "chargingSchedule": schedule,
            }
        schedule.update(evseId=port, scheduleStart=format_ocpp(now))
        schedule["chargingSchedulePeriod"] = periods
        return {"status": GetCompositeScheduleStatus.accepted, "schedule": schedule}

    if not sim.smart_charging and sim.smart_charging_refusal is None:
        return {}
    return {
        Action.set_charging_profile: set_charging_profile,
        Action.clear_charging_profile: clear_charging_profile,
        Action.get_composite_schedule: get_composite_schedule,
    }
