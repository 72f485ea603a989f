"""/1.2/webhooks: where the operator's events are sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import openapi_fleet, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.fleet import parse_webhook_create, parse_webhook_id, parse_webhooks
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api
from chargegate.services import webhook_registry
from chargegate.services.webhook_registry import WebhookView

router = roles.router(Role.OPERATOR)
# Documented as the id POST answered; checked by parse_webhook_id, whose 400 says what is wrong.
WebhookIdPath = Annotated[str, Path(json_schema_extra={"pattern": "^[1-9][0-9]{0,9}$"})]


def webhook_body(view: WebhookView) -> dict[str, Any]:
    body: dict[str, Any] = {"id": view.id, "url": view.url, "created": format_api(view.created)}
    if view.secret is not None:
        body["secret"] = view.secret
    return body


@router.post(
    "/webhooks",
    status_code=201,
    response_model=None,
    responses=openapi_fleet.WEBHOOK_CREATE.responses,
    openapi_extra=openapi_fleet.WEBHOOK_CREATE.extra,
)
async def create_webhook(request: Request, operator: Operator, rt: Rt) -> Response:
    body = await json_body(request)
    if not body:
        raise InvalidArgument("Missing fields: send a JSON body with url")
    added = await webhook_registry.add(rt, operator, parse_webhook_create(body))
    return JSONResponse(webhook_body(added), status_code=201)


@router.get(
    "/webhooks",
    response_model=None,
    responses=openapi_fleet.WEBHOOK_LIST.responses,
    openapi_extra=openapi_fleet.WEBHOOK_LIST.extra,
)
async def list_webhooks(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_webhooks(await get_arguments(request))
    return json_array(await webhook_registry.list_webhooks(rt, operator, arguments), webhook_body)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    response_model=None,
    responses=openapi_fleet.WEBHOOK_DELETE.responses,
    openapi_extra=openapi_fleet.WEBHOOK_DELETE.extra,
)
async def delete_webhook(webhook_id: WebhookIdPath, operator: Operator, rt: Rt) -> Response:
    await webhook_registry.remove(rt, operator, parse_webhook_id(webhook_id))
    return Response(status_code=204)
