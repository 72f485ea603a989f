"""The 2.0.1 smart charging messages (K01 SetChargingProfile, K10 ClearChargingProfile, K08
GetCompositeSchedule), worded from domain.charging_profiles."""

from __future__ import annotations

from ocpp.v201.enums import Action

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
    profile_id = params.profile_id or order.command_id
    profile: Payload = {
        "id": profile_id,
        **charging_profiles.common(params),
        "chargingSchedule": [
            {"id": profile_id, **charging_profiles.schedule(params, order.issued_at)}
        ],
    }
    if params.transaction_id is not None:
        profile["transactionId"] = params.transaction_id
    return Action.set_charging_profile, {"evseId": params.port, "chargingProfile": profile}


def clear_call(order: Order) -> tuple[str, Payload]:
    params = order.params_as(ClearProfileParams)
    payload: Payload = {}
    if params.profile_id is not None:
        payload["chargingProfileId"] = params.profile_id
    criteria = charging_profiles.criteria(params, "evseId")
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    return Action.clear_charging_profile, payload


def composite_call(order: Order) -> tuple[str, Payload]:
    params = order.params_as(CompositeParams)
    return Action.get_composite_schedule, charging_profiles.composite(params, "evseId")
