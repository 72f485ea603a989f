"""What both OCPP versions' charging profiles share: the schedule and the common fields,
worded from domain.charging_profiles (each version adds its ids: ocpp/*/smart_charging.py)."""

from __future__ import annotations

from datetime import datetime

from chargegate.domain.charging_profiles import (
    ClearProfileParams,
    CompositeParams,
    Kind,
    SetProfileParams,
)
from chargegate.domain.times import format_ocpp
from chargegate.ocpp.rpc import Payload


def schedule(params: SetProfileParams, now: datetime) -> Payload:
    """The chargingSchedule (2.0.1: one of its list, less its id)."""
    periods: list[Payload] = []
    for period in params.periods:
        worded: Payload = {"startPeriod": period.start_s, "limit": period.limit}
        if period.phases is not None:
            worded["numberPhases"] = period.phases
        periods.append(worded)
    result: Payload = {"chargingRateUnit": params.unit.value, "chargingSchedulePeriod": periods}
    if params.kind is not Kind.RELATIVE:
        # An Absolute profile without a start begins now, when it was asked for.
        result["startSchedule"] = format_ocpp(params.start_schedule or now)
    if params.duration_s is not None:
        result["duration"] = params.duration_s
    return result


def common(params: SetProfileParams) -> Payload:
    """stackLevel, purpose, kind, recurrency and validity (the same words in both versions)."""
    profile: Payload = {
        "stackLevel": params.stack_level,
        "chargingProfilePurpose": params.purpose.value,
        "chargingProfileKind": params.kind.value,
    }
    if params.recurrency is not None:
        profile["recurrencyKind"] = params.recurrency.value
    if params.valid_from is not None:
        profile["validFrom"] = format_ocpp(params.valid_from)
    if params.valid_to is not None:
        profile["validTo"] = format_ocpp(params.valid_to)
    return profile


def criteria(params: ClearProfileParams, port_key: str) -> Payload:
    """Which profiles a ClearChargingProfile clears besides its id (1.6 connectorId, 2.0.1
    evseId)."""
    payload: Payload = {}
    if params.port is not None:
        payload[port_key] = params.port
    if params.purpose is not None:
        payload["chargingProfilePurpose"] = params.purpose.value
    if params.stack_level is not None:
        payload["stackLevel"] = params.stack_level
    return payload


def composite(params: CompositeParams, port_key: str) -> Payload:
    """GetCompositeSchedule's payload (1.6 connectorId, 2.0.1 evseId)."""
    payload: Payload = {port_key: params.port, "duration": params.duration_s}
    if params.unit is not None:
        payload["chargingRateUnit"] = params.unit.value
    return payload
