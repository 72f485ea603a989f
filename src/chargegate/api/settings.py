"""/1.2/settings: the operator's token policies; /1.2/chargers/<id>/settings: a charger's own
answer to unknown tokens."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chargegate.api import openapi_settings, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.domain.roles import Role
from chargegate.domain.settings import (
    OperatorSettings,
    parse_charger_settings_patch,
    parse_settings_patch,
    parse_settings_read,
)
from chargegate.services import operator_settings
from chargegate.services.operator_settings import ChargerSettingsView

router = roles.router(Role.OPERATOR)


def settings_body(settings: OperatorSettings) -> dict[str, Any]:
    return {
        "unknown_tokens": settings.unknown_tokens.value,
        "concurrent_tx": settings.concurrent_tx.value,
        "blocked_sessions": settings.blocked_sessions.value,
        "clear_cache_on_block": settings.clear_cache_on_block,
    }


def charger_settings_body(view: ChargerSettingsView) -> dict[str, Any]:
    return {
        "charge_point_id": view.charge_point_id,
        "unknown_tokens": None if view.unknown_tokens is None else view.unknown_tokens.value,
        "applied_unknown_tokens": view.applied_unknown_tokens.value,
    }


@router.get(
    "/settings",
    response_model=None,
    responses=openapi_settings.GET.responses,
    openapi_extra=openapi_settings.GET.extra,
)
async def get_settings(request: Request, operator: Operator, rt: Rt) -> dict[str, Any]:
    parse_settings_read(await get_arguments(request))
    return settings_body(await operator_settings.get(rt, operator))


@router.patch(
    "/settings",
    response_model=None,
    responses=openapi_settings.PATCH.responses,
    openapi_extra=openapi_settings.PATCH.extra,
)
async def modify_settings(request: Request, operator: Operator, rt: Rt) -> dict[str, Any]:
    patch = parse_settings_patch(await json_body(request))
    return settings_body(await operator_settings.change(rt, operator, patch))


@router.get(
    "/chargers/{charge_point_id}/settings",
    response_model=None,
    responses=openapi_settings.CHARGER_GET.responses,
    openapi_extra=openapi_settings.CHARGER_GET.extra,
)
async def get_charger_settings(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    parse_settings_read(await get_arguments(request))
    view = await operator_settings.charger_settings(rt, operator, charge_point_id)
    return charger_settings_body(view)


@router.patch(
    "/chargers/{charge_point_id}/settings",
    response_model=None,
    responses=openapi_settings.CHARGER_PATCH.responses,
    openapi_extra=openapi_settings.CHARGER_PATCH.extra,
)
async def modify_charger_settings(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    patch = parse_charger_settings_patch(await json_body(request))
    view = await operator_settings.change_charger(rt, operator, charge_point_id, patch)
    return charger_settings_body(view)
