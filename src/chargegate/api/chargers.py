"""/1.2/chargers: the operator's chargers, their credentials and ports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import openapi_fleet, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.configuration import key_body
from chargegate.api.file_transfers import transfers_body
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.fleet import parse_charger_create, parse_charger_patch, parse_chargers
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api
from chargegate.services import fleet
from chargegate.services.fleet import ChargerView

router = roles.router(Role.OPERATOR)
# Documented with its pattern; checked by the service, whose 400 says what is wrong with it.
ChargePointIdPath = Annotated[str, Path(json_schema_extra=openapi_fleet.CHARGE_POINT_ID)]


def charger_body(view: ChargerView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "charge_point_id": view.charge_point_id,
        "online": view.online,
        "node": view.node,
        "last_seen": format_api(view.last_seen),
        "ocpp_version": view.ocpp_version,
        "ocpp_version_registered": view.ocpp_version_registered,
        "vendor": view.vendor,
        "model": view.model,
        "serial_number": view.serial_number,
        "firmware_version": view.firmware_version,
        "feature_profiles": None if view.feature_profiles is None else list(view.feature_profiles),
        **transfers_body(view.file_transfers),
        "disabled": view.disabled,
        "created": format_api(view.created),
        "ports": [
            {"port_uuid": p.port_uuid, "connector_id": p.connector_id, "status": p.status}
            for p in view.ports
        ],
    }
    if view.password is not None:
        body["password"] = view.password
    if view.configuration is not None:
        body["configuration"] = [key_body(key) for key in view.configuration]
    return body


@router.post(
    "/chargers",
    status_code=201,
    response_model=None,
    responses=openapi_fleet.CHARGER_CREATE.responses,
    openapi_extra=openapi_fleet.CHARGER_CREATE.extra,
)
async def create_charger(request: Request, operator: Operator, rt: Rt) -> Response:
    body = await json_body(request)
    if not body:
        raise InvalidArgument(
            "Missing fields: send a JSON body with charge_point_id and connectors"
        )
    added = await fleet.add(rt, operator, parse_charger_create(body))
    return JSONResponse(charger_body(added), status_code=201)


@router.get(
    "/chargers",
    response_model=None,
    responses=openapi_fleet.CHARGER_LIST.responses,
    openapi_extra=openapi_fleet.CHARGER_LIST.extra,
)
async def list_chargers(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_chargers(await get_arguments(request))
    return json_array(await fleet.list_chargers(rt, operator, arguments), charger_body)


@router.get(
    "/chargers/{charge_point_id}",
    response_model=None,
    responses=openapi_fleet.CHARGER_GET.responses,
    openapi_extra=openapi_fleet.CHARGER_GET.extra,
)
async def get_charger(charge_point_id: ChargePointIdPath, operator: Operator, rt: Rt) -> Any:
    return charger_body(await fleet.get(rt, operator, charge_point_id))


@router.patch(
    "/chargers/{charge_point_id}",
    response_model=None,
    responses=openapi_fleet.CHARGER_PATCH.responses,
    openapi_extra=openapi_fleet.CHARGER_PATCH.extra,
)
async def modify_charger(
    charge_point_id: ChargePointIdPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    patch = parse_charger_patch(await json_body(request))
    return charger_body(await fleet.modify(rt, operator, charge_point_id, patch))


@router.delete(
    "/chargers/{charge_point_id}",
    status_code=204,
    response_model=None,
    responses=openapi_fleet.CHARGER_DELETE.responses,
    openapi_extra=openapi_fleet.CHARGER_DELETE.extra,
)
async def delete_charger(
    charge_point_id: ChargePointIdPath, operator: Operator, rt: Rt
) -> Response:
    await fleet.delete(rt, operator, charge_point_id)
    return Response(status_code=204)
