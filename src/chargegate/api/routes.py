"""The seed's Transaction Management endpoints, the operator's port list, and commands to
chargers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import bodies, idempotency, openapi, openapi_commands, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.roles import Role
from chargegate.domain.times import utcnow
from chargegate.domain.validation import (
    parse_command,
    parse_create,
    parse_list,
    parse_patch,
    parse_ports,
    parse_queue_args,
    parse_staging,
    parse_uuid,
)
from chargegate.services import charger_commands
from chargegate.services import ports as port_service
from chargegate.services import queue as queue_service
from chargegate.services import transactions as tx_service
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.views import QueuedView, StartedView

# The seed's endpoints: a `sessions` key may call them (api/roles.py).
router = roles.router(Role.SESSIONS)
commands_router = roles.router(Role.OPERATOR)
# Documented as a UUID; checked by parse_uuid, whose 400 says what is wrong with it.
UuidPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


@router.post(
    "/transactions",
    status_code=201,
    response_model=None,
    responses=openapi.CREATE.responses,
    openapi_extra=openapi.CREATE.extra,
)
async def create_transaction(request: Request, operator: Operator, rt: Rt) -> Response:
    async def change(once: Idempotency[StartedView] | None) -> StartedView | Earlier:
        body = await json_body(request)
        if not body:
            raise InvalidArgument("Missing fields: send a JSON body with port_uuid and expires")
        start = parse_create(body, utcnow())
        return await tx_service.create(rt, operator, start, once)

    def respond(started: StartedView) -> Response:
        return JSONResponse(bodies.created_body(started), status_code=201)

    return await idempotency.once(request, operator, change, respond)


@router.get(
    "/transactions",
    response_model=None,
    responses=openapi.LIST.responses,
    openapi_extra=openapi.LIST.extra,
)
async def list_transactions(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_list(await get_arguments(request))
    found = await tx_service.list_sessions(rt, operator, arguments)
    return json_array(found, bodies.transaction_body)


@router.get(
    "/transactions/{transaction_uuid}",
    response_model=None,
    responses=openapi.GET.responses,
    openapi_extra=openapi.GET.extra,
)
async def get_transaction(
    transaction_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    staging = parse_staging(await get_arguments(request))
    transaction = await tx_service.get(
        rt, operator, parse_uuid(transaction_uuid, "transaction_uuid"), staging
    )
    return bodies.transaction_body(transaction)


@router.patch(
    "/transactions/{transaction_uuid}",
    response_model=None,
    responses=openapi.PATCH.responses,
    openapi_extra=openapi.PATCH.extra,
)
async def modify_transaction(
    transaction_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> Response:
    async def change(once: Idempotency[QueuedView | None] | None) -> QueuedView | Earlier | None:
        uuid = parse_uuid(transaction_uuid, "transaction_uuid")
        patch = parse_patch(await json_body(request), utcnow())
        return await tx_service.modify(rt, operator, uuid, patch, once)

    def respond(queued: QueuedView | None) -> Response:
        if queued is None:  # extended
            return Response(status_code=204)
        return JSONResponse(bodies.queued_body(queued.queue_uuid), status_code=202)

    return await idempotency.once(request, operator, change, respond)


@router.get(
    "/queue/{queue_uuid}",
    response_model=None,
    responses=openapi.QUEUE.responses,
    openapi_extra=openapi.QUEUE.extra,
)
async def get_queue_item(
    queue_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    uuid = parse_uuid(queue_uuid, "queue_uuid")
    arguments = parse_queue_args(await get_arguments(request))
    view = await queue_service.inspect(rt, operator, uuid, arguments)
    return bodies.queue_body(view)


@router.get(
    "/ports",
    response_model=None,
    responses=openapi.PORTS.responses,
    openapi_extra=openapi.PORTS.extra,
)
async def list_ports(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_ports(await get_arguments(request))
    found = await port_service.list_ports(rt, operator, arguments)
    return json_array(found, bodies.port_body)


@commands_router.post(
    "/chargers/{charge_point_id}/commands",
    status_code=202,
    response_model=None,
    responses=openapi_commands.COMMAND.responses,
    openapi_extra=openapi_commands.COMMAND.extra,
)
async def send_command(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> Response:
    async def change(once: Idempotency[QueuedView] | None) -> QueuedView | Earlier:
        command = parse_command(await json_body(request), utcnow())
        return await charger_commands.send(rt, operator, charge_point_id, command, once)

    def respond(sent: QueuedView) -> Response:
        return JSONResponse(bodies.queued_body(sent.queue_uuid), status_code=202)

    return await idempotency.once(request, operator, change, respond)
