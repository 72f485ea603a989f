"""/1.2/chargers/<charge_point_id>/charging_profiles: the profiles chargegate set on the charger
and keeps (set and clear them with the set_charging_profile and clear_charging_profile
commands; docs/smart-charging.md)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from chargegate.api import openapi_fleet, roles
from chargegate.api.arguments import Rt, get_arguments
from chargegate.api.auth import Operator
from chargegate.api.streaming import json_array
from chargegate.domain.fleet import parse_webhooks
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api
from chargegate.domain.validation import parse_staging
from chargegate.services import charging_profiles
from chargegate.services.charging_profiles import ProfileView

router = roles.router(Role.OPERATOR)


@router.get(
    "/chargers/{charge_point_id}/charging_profiles",
    response_model=None,
    responses=openapi_fleet.PROFILE_LIST.responses,
    openapi_extra=openapi_fleet.PROFILE_LIST.extra,
)
async def list_charging_profiles(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> Response:
    # A page (limit, cursor), as the webhooks' list takes it; the profiles are the charger's
    # own, the same seen from the sandbox.
    arguments = await get_arguments(request)
    parse_staging(arguments)
    page = parse_webhooks({name: value for name, value in arguments.items() if name != "stg"})
    listing = await charging_profiles.listing(rt, operator, charge_point_id, page)
    return json_array(listing, profile_body)


def profile_body(view: ProfileView) -> dict[str, Any]:
    return {
        "profile_id": view.profile_id,
        "port": view.port,
        "purpose": view.purpose,
        "stack_level": view.stack_level,
        "params": view.params,
        "set": format_api(view.set_at),
    }
