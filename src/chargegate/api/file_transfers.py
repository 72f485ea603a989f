"""/1.2/chargers/<charge_point_id>/firmware: how the charger's last firmware update and
diagnostics upload went, as it reported them (the commands are POST .../commands)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chargegate.api import openapi_file_transfers, roles
from chargegate.api.arguments import Rt, get_arguments
from chargegate.api.auth import Operator
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api
from chargegate.domain.validation import parse_staging, reject_unknown
from chargegate.services import file_transfers
from chargegate.services.file_transfers import FileTransfersView

router = roles.router(Role.OPERATOR)


@router.get(
    "/chargers/{charge_point_id}/firmware",
    response_model=None,
    responses=openapi_file_transfers.GET.responses,
    openapi_extra=openapi_file_transfers.GET.extra,
)
async def get_file_transfers(
    charge_point_id: str, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    arguments = await get_arguments(request)
    reject_unknown(arguments, ("stg",))
    parse_staging(arguments)
    view = await file_transfers.view(rt, operator, charge_point_id)
    return transfers_body(view)


def transfers_body(view: FileTransfersView) -> dict[str, Any]:
    """The last firmware and diagnostics reports: this endpoint's answer, and part of
    GET /1.2/chargers/<id>'s."""
    return {
        "firmware_status": view.firmware_status,
        "firmware_status_at": format_api(view.firmware_status_at),
        "diagnostics_status": view.diagnostics_status,
        "diagnostics_status_at": format_api(view.diagnostics_status_at),
    }
