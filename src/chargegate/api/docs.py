"""/1.2/docs: Swagger UI served from this server, its files from an installed package
(fastapi-offline ships them), so the page works with no internet and under PAGE_POLICY."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from chargegate.api.pages import PAGE_HEADERS, Assets

router = APIRouter(include_in_schema=False)
_SWAGGER = resources.files("fastapi_offline").joinpath("static")
_OURS = resources.files("chargegate.api").joinpath("static")
ASSETS = Assets(
    {
        "swagger-ui-bundle.js": (_SWAGGER.joinpath("swagger-ui-bundle.js"), "text/javascript"),
        "swagger-ui.css": (_SWAGGER.joinpath("swagger-ui.css"), "text/css"),
        "favicon.png": (_SWAGGER.joinpath("favicon.png"), "image/png"),
        "docs.js": (_OURS.joinpath("docs.js"), "text/javascript"),
    }
)


@router.get("/1.2/docs")
async def page() -> HTMLResponse:
    html = _OURS.joinpath("docs.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/1.2/docs/assets/{name}")
async def asset(name: str) -> Response:
    return ASSETS.response(name)
