"""The operator dashboard: a static page that logs in with an API key, and its JSON."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi.responses import HTMLResponse, Response

from chargegate.api import roles
from chargegate.api.arguments import Rt
from chargegate.api.auth import Operator
from chargegate.api.pages import PAGE_HEADERS, Assets
from chargegate.domain.roles import Role
from chargegate.services import dashboard as dashboard_service
from chargegate.services import site_history

router = roles.router(Role.OPERATOR, prefix="", include_in_schema=False)
_STATIC = resources.files("chargegate.api").joinpath("static")
PAGE = _STATIC.joinpath("dashboard.html")
ASSETS = Assets(
    {
        "dashboard.js": (_STATIC.joinpath("dashboard.js"), "text/javascript"),
        "controls.js": (_STATIC.joinpath("controls.js"), "text/javascript"),
        "dashboard.css": (_STATIC.joinpath("dashboard.css"), "text/css"),
    }
)


@router.get("/dashboard")
async def page() -> HTMLResponse:
    # The page holds no data: everything comes from /dashboard/api with the key it asks for.
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=PAGE_HEADERS)


@router.get("/dashboard/{name}")
async def asset(name: str) -> Response:
    return ASSETS.response(name)


@router.get("/dashboard/api/overview")
async def overview(operator: Operator, rt: Rt) -> dict[str, Any]:
    return await dashboard_service.overview(rt, operator)


@router.get("/dashboard/api/sites")
async def sites(operator: Operator, rt: Rt) -> list[dict[str, Any]]:
    return await site_history.sites(rt, operator)
