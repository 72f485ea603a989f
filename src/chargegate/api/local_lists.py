"""/1.2/chargers/<charge_point_id>/local-list: a charger's local authorization list, kept in
sync with the operator's tokens, and a full resend on demand."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import bodies, idempotency, openapi_local_lists, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.domain.roles import Role
from chargegate.domain.states import ChargerAction
from chargegate.domain.validation import CommandRequest, parse_staging, reject_unknown
from chargegate.services import charger_commands, local_lists
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.views import QueuedView

router = roles.router(Role.OPERATOR)


@router.get(
    "/chargers/{charge_point_id}/local-list",
    response_model=None,
    responses=openapi_local_lists.GET.responses,
    openapi_extra=openapi_local_lists.GET.extra,
)
async def get_local_list(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    # The list is the charger's own, the same seen from the sandbox (which only never sends).
    arguments = await get_arguments(request)
    reject_unknown(arguments, ("stg",))
    parse_staging(arguments)
    return bodies.local_list_body(await local_lists.view(rt, operator, charge_point_id))


@router.post(
    "/chargers/{charge_point_id}/local-list",
    status_code=202,
    response_model=None,
    responses=openapi_local_lists.RESEND.responses,
    openapi_extra=openapi_local_lists.RESEND.extra,
)
async def resend_local_list(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> Response:
    async def change(once: Idempotency[QueuedView] | None) -> QueuedView | Earlier:
        body = await json_body(request)
        reject_unknown(body, ("stg",))
        command = CommandRequest(ChargerAction.SEND_LOCAL_LIST, None, parse_staging(body))
        return await charger_commands.send(rt, operator, charge_point_id, command, once)

    def respond(sent: QueuedView) -> Response:
        return JSONResponse(bodies.queued_body(sent.queue_uuid), status_code=202)

    return await idempotency.once(request, operator, change, respond)
