"""The seed's Transaction Management endpoints, and the operator's port list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import bodies
from chargegate.api.arguments import get_arguments, json_body
from chargegate.api.auth import operator_id
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.times import utcnow
from chargegate.domain.validation import (
    parse_create,
    parse_list,
    parse_patch,
    parse_queue_args,
    parse_staging,
    parse_uuid,
)
from chargegate.services import ports as port_service
from chargegate.services import queue as queue_service
from chargegate.services import transactions as tx_service
from chargegate.services.runtime import Runtime

router = APIRouter(prefix="/1.2")
Operator = Annotated[int, Depends(operator_id)]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.post("/transactions", status_code=201)
async def create_transaction(request: Request, operator: Operator) -> JSONResponse:
    body = await json_body(request)
    if not body:
        raise InvalidArgument("Missing fields: send a JSON body with port_uuid and expires")
    started = await tx_service.create(_runtime(request), operator, parse_create(body, utcnow()))
    return JSONResponse(bodies.created_body(started), status_code=201)


@router.get("/transactions")
async def list_transactions(request: Request, operator: Operator) -> list[dict[str, Any]]:
    arguments = parse_list(await get_arguments(request))
    found = await tx_service.list_for_port(_runtime(request), operator, arguments)
    return [bodies.transaction_body(transaction) for transaction in found]


@router.get("/transactions/{transaction_uuid}")
async def get_transaction(
    transaction_uuid: str, request: Request, operator: Operator
) -> dict[str, Any]:
    staging = parse_staging(await get_arguments(request))
    transaction = await tx_service.get(
        _runtime(request), operator, parse_uuid(transaction_uuid, "transaction_uuid"), staging
    )
    return bodies.transaction_body(transaction)


@router.patch("/transactions/{transaction_uuid}", response_model=None)
async def modify_transaction(
    transaction_uuid: str, request: Request, operator: Operator
) -> Response:
    uuid = parse_uuid(transaction_uuid, "transaction_uuid")
    patch = parse_patch(await json_body(request), utcnow())
    item = await tx_service.modify(_runtime(request), operator, uuid, patch)
    if item is None:
        return Response(status_code=204)
    return JSONResponse(bodies.stop_body(item.queue_uuid), status_code=202)


@router.get("/queue/{queue_uuid}")
async def get_queue_item(queue_uuid: str, request: Request, operator: Operator) -> dict[str, Any]:
    uuid = parse_uuid(queue_uuid, "queue_uuid")
    arguments = parse_queue_args(await get_arguments(request))
    view = await queue_service.inspect(_runtime(request), operator, uuid, arguments)
    return bodies.queue_body(view)


@router.get("/ports")
async def list_ports(request: Request, operator: Operator) -> list[dict[str, Any]]:
    rows = await port_service.list_ports(_runtime(request), operator)
    return [bodies.port_body(port, charger) for port, charger in rows]
