"""/1.2/chargers/<charge_point_id>/configuration: the charger's configuration as last read (read
and change it with the get_configuration and change_configuration commands)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chargegate.api import openapi_configuration, roles
from chargegate.api.arguments import Rt, get_arguments
from chargegate.api.auth import Operator
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api
from chargegate.domain.validation import parse_staging, reject_unknown
from chargegate.services import charger_configuration
from chargegate.services.charger_configuration import KeyView

router = roles.router(Role.OPERATOR)


@router.get(
    "/chargers/{charge_point_id}/configuration",
    response_model=None,
    responses=openapi_configuration.GET.responses,
    openapi_extra=openapi_configuration.GET.extra,
)
async def get_configuration(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    # The configuration is the charger's own, the same seen from the sandbox.
    arguments = await get_arguments(request)
    reject_unknown(arguments, ("stg",))
    parse_staging(arguments)
    keys = await charger_configuration.view(rt, operator, charge_point_id)
    return {"keys": [key_body(key) for key in keys]}


def key_body(view: KeyView) -> dict[str, Any]:
    return {
        "key": view.key,
        "value": view.value,
        "readonly": view.readonly,
        "read_at": format_api(view.read_at),
    }
