"""The 1.6 SmartCharging profile's messages: SetChargingProfile, ClearChargingProfile and
GetCompositeSchedule, worded from domain.charging_profiles."""

from __future__ import annotations

from ocpp.v16.enums import Action

from chargegate.domain.charging_profiles import (
    ClearProfileParams,
    CompositeParams,
    SetProfileParams,
)
from chargegate.ocpp import charging_profiles
from chargegate.ocpp.rpc import Payload
from chargegate.services.commands import Order


def set_call(order: Order) -> tuple[str, Payload]:
    params = order.params_as(SetProfileParams)
    profile: Payload = {
        "chargingProfileId": params.profile_id or order.command_id,
        **charging_profiles.common(params),
        "chargingSchedule": charging_profiles.schedule(params, order.issued_at),
    }
    if params.transaction_id is not None:
        # 1.6 transaction ids are ours, integers.
        profile["transactionId"] = int(params.transaction_id)
    return Action.set_charging_profile, {"connectorId": params.port, "csChargingProfiles": profile}


def clear_call(order: Order) -> tuple[str, Payload]:
    params = order.params_as(ClearProfileParams)
    payload = charging_profiles.criteria(params, "connectorId")
    if params.profile_id is not None:
        payload["id"] = params.profile_id
    return Action.clear_charging_profile, payload


def composite_call(order: Order) -> tuple[str, Payload]:
    params = order.params_as(CompositeParams)
    return Action.get_composite_schedule, charging_profiles.composite(params, "connectorId")
