"""/1.2/sites: sites and the circuits inside them, whose limits the balancer shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import openapi_sites, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.roles import Role
from chargegate.domain.sites import parse_site_create, parse_site_patch, parse_sites
from chargegate.domain.times import format_api
from chargegate.domain.validation import parse_uuid
from chargegate.services import sites
from chargegate.services.sites import SiteView

router = roles.router(Role.OPERATOR)
UuidPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


def site_body(view: SiteView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site_uuid": view.site_uuid,
        "name": view.name,
        "parent_uuid": view.parent_uuid,
        "max_current_a": view.max_current_a,
        "max_power_w": view.max_power_w,
        "phases": view.phases,
        "voltage": view.voltage,
        "chargers": list(view.chargers),
        "ports": list(view.ports),
        "created": format_api(view.created),
    }
    if view.sessions is not None:
        body["sessions"] = [
            {
                "transaction_uuid": share.transaction_uuid,
                "port_uuid": share.port_uuid,
                "charge_point_id": share.charge_point_id,
                "priority": share.priority,
                "allocated_a": share.allocated_a,
                "waiting": share.waiting,
                "measured_current_a": share.measured_current_a,
                "measured_power_w": share.measured_power_w,
            }
            for share in view.sessions
        ]
        body["measured_current_a"] = view.measured_current_a
        body["measured_power_w"] = view.measured_power_w
    return body


@router.post(
    "/sites",
    status_code=201,
    response_model=None,
    responses=openapi_sites.SITE_CREATE.responses,
    openapi_extra=openapi_sites.SITE_CREATE.extra,
)
async def create_site(request: Request, operator: Operator, rt: Rt) -> Response:
    body = await json_body(request)
    if not body:
        raise InvalidArgument(
            "Missing fields: send a JSON body with name, phases and max_current_a or max_power_w"
        )
    added = await sites.create(rt, operator, parse_site_create(body))
    return JSONResponse(site_body(added), status_code=201)


@router.get(
    "/sites",
    response_model=None,
    responses=openapi_sites.SITE_LIST.responses,
    openapi_extra=openapi_sites.SITE_LIST.extra,
)
async def list_sites(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_sites(await get_arguments(request))
    return json_array(await sites.list_sites(rt, operator, arguments), site_body)


@router.get(
    "/sites/{site_uuid}",
    response_model=None,
    responses=openapi_sites.SITE_GET.responses,
    openapi_extra=openapi_sites.SITE_GET.extra,
)
async def get_site(site_uuid: UuidPath, operator: Operator, rt: Rt) -> dict[str, Any]:
    return site_body(await sites.get(rt, operator, parse_uuid(site_uuid, "site_uuid")))


@router.patch(
    "/sites/{site_uuid}",
    response_model=None,
    responses=openapi_sites.SITE_PATCH.responses,
    openapi_extra=openapi_sites.SITE_PATCH.extra,
)
async def modify_site(
    site_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    uuid = parse_uuid(site_uuid, "site_uuid")
    patch = parse_site_patch(await json_body(request))
    return site_body(await sites.modify(rt, operator, uuid, patch))


@router.delete(
    "/sites/{site_uuid}",
    status_code=204,
    response_model=None,
    responses=openapi_sites.SITE_DELETE.responses,
    openapi_extra=openapi_sites.SITE_DELETE.extra,
)
async def delete_site(site_uuid: UuidPath, operator: Operator, rt: Rt) -> Response:
    await sites.delete(rt, operator, parse_uuid(site_uuid, "site_uuid"))
    return Response(status_code=204)
