"""/1.2/reservations: hold a port (or a charger) for a token until a time."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import bodies, idempotency, openapi_reservations, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.routes import UuidPath
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.reservations import (
    parse_reservation_create,
    parse_reservation_patch,
    parse_reservations,
)
from chargegate.domain.roles import Role
from chargegate.domain.times import utcnow
from chargegate.domain.validation import parse_staging, parse_uuid
from chargegate.services import reservations
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.reservation_outcomes import reservation_data
from chargegate.services.reservations import ReservedView
from chargegate.services.views import QueuedView

router = roles.router(Role.OPERATOR)


@router.post(
    "/reservations",
    status_code=202,
    response_model=None,
    responses=openapi_reservations.CREATE.responses,
    openapi_extra=openapi_reservations.CREATE.extra,
)
async def create_reservation(request: Request, operator: Operator, rt: Rt) -> Response:
    async def change(once: Idempotency[ReservedView] | None) -> ReservedView | Earlier:
        body = await json_body(request)
        if not body:
            raise InvalidArgument("Missing fields: send a JSON body with id_tag and expires")
        return await reservations.create(
            rt, operator, parse_reservation_create(body, utcnow()), once
        )

    def respond(reserved: ReservedView) -> Response:
        body = {
            **bodies.queued_body(reserved.queue_uuid),
            "reservation_uuid": reserved.reservation_uuid,
        }
        return JSONResponse(body, status_code=202)

    return await idempotency.once(request, operator, change, respond)


@router.get(
    "/reservations",
    response_model=None,
    responses=openapi_reservations.LIST.responses,
    openapi_extra=openapi_reservations.LIST.extra,
)
async def list_reservations(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_reservations(await get_arguments(request))
    found = await reservations.list_reservations(rt, operator, arguments)
    return json_array(found, reservation_data)


@router.get(
    "/reservations/{reservation_uuid}",
    response_model=None,
    responses=openapi_reservations.GET.responses,
    openapi_extra=openapi_reservations.GET.extra,
)
async def get_reservation(
    reservation_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    staging = parse_staging(await get_arguments(request))
    uuid = parse_uuid(reservation_uuid, "reservation_uuid")
    return reservation_data(await reservations.get(rt, operator, uuid, staging))


@router.patch(
    "/reservations/{reservation_uuid}",
    response_model=None,
    responses=openapi_reservations.PATCH.responses,
    openapi_extra=openapi_reservations.PATCH.extra,
)
async def cancel_reservation(
    reservation_uuid: UuidPath, request: Request, operator: Operator, rt: Rt
) -> Response:
    async def change(once: Idempotency[QueuedView] | None) -> QueuedView | Earlier:
        uuid = parse_uuid(reservation_uuid, "reservation_uuid")
        staging = parse_reservation_patch(await json_body(request))
        return await reservations.cancel(rt, operator, uuid, staging, once)

    def respond(queued: QueuedView) -> Response:
        return JSONResponse(bodies.queued_body(queued.queue_uuid), status_code=202)

    return await idempotency.once(request, operator, change, respond)
