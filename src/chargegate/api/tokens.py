"""/1.2/tokens: the operator's ID tokens (cards), which chargers are answered from."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse

from chargegate.api import bodies, idempotency, openapi_tokens, roles
from chargegate.api.arguments import Rt, get_arguments, json_body
from chargegate.api.auth import Operator
from chargegate.api.streaming import json_array
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.roles import Role
from chargegate.domain.token_import import parse_token_import
from chargegate.domain.tokens import (
    parse_id_tag,
    parse_token_create,
    parse_token_patch,
    parse_tokens,
)
from chargegate.domain.validation import parse_staging
from chargegate.services import id_tokens, token_import
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.token_import import ImportView

router = roles.router(Role.OPERATOR)
# Its body may be larger than other requests' (see server.py and BodyLimit).
IMPORT_PATH = "/1.2/tokens:import"
# Documented with its pattern; checked by parse_id_tag, whose 400 says what is wrong with it.
IdTagPath = Annotated[str, Path(json_schema_extra=openapi_tokens.ID_TAG)]


@router.post(
    "/tokens",
    status_code=201,
    response_model=None,
    responses=openapi_tokens.CREATE.responses,
    openapi_extra=openapi_tokens.CREATE.extra,
)
async def create_token(request: Request, operator: Operator, rt: Rt) -> Response:
    body = await json_body(request)
    if not body:
        raise InvalidArgument("Missing fields: send a JSON body with id_tag and status")
    token = await id_tokens.create(rt, operator, parse_token_create(body))
    return JSONResponse(bodies.token_body(token), status_code=201)


@router.get(
    "/tokens",
    response_model=None,
    responses=openapi_tokens.LIST.responses,
    openapi_extra=openapi_tokens.LIST.extra,
)
async def list_tokens(request: Request, operator: Operator, rt: Rt) -> Response:
    arguments = parse_tokens(await get_arguments(request))
    return json_array(await id_tokens.list_tokens(rt, operator, arguments), bodies.token_body)


@router.get(
    "/tokens/{id_tag}",
    response_model=None,
    responses=openapi_tokens.GET.responses,
    openapi_extra=openapi_tokens.GET.extra,
)
async def get_token(
    id_tag: IdTagPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    staging = parse_staging(await get_arguments(request))
    return bodies.token_body(await id_tokens.get(rt, operator, parse_id_tag(id_tag), staging))


@router.patch(
    "/tokens/{id_tag}",
    response_model=None,
    responses=openapi_tokens.PATCH.responses,
    openapi_extra=openapi_tokens.PATCH.extra,
)
async def modify_token(
    id_tag: IdTagPath, request: Request, operator: Operator, rt: Rt
) -> dict[str, Any]:
    tag = parse_id_tag(id_tag)
    patch = parse_token_patch(await json_body(request))
    return bodies.token_body(await id_tokens.modify(rt, operator, tag, patch))


@router.delete(
    "/tokens/{id_tag}",
    status_code=204,
    response_model=None,
    responses=openapi_tokens.DELETE.responses,
    openapi_extra=openapi_tokens.DELETE.extra,
)
async def delete_token(id_tag: IdTagPath, request: Request, operator: Operator, rt: Rt) -> Response:
    staging = parse_staging(await get_arguments(request))
    await id_tokens.remove(rt, operator, parse_id_tag(id_tag), staging)
    return Response(status_code=204)


@router.post(
    IMPORT_PATH.removeprefix(router.prefix),
    response_model=None,
    responses=openapi_tokens.IMPORT.responses,
    openapi_extra=openapi_tokens.IMPORT.extra,
)
async def import_tokens(request: Request, operator: Operator, rt: Rt) -> Response:
    async def change(once: Idempotency[ImportView] | None) -> ImportView | Earlier:
        body = await json_body(request)
        if not body:
            raise InvalidArgument("Missing fields: send a JSON body with tokens")
        return await token_import.import_on_node(rt, operator, parse_token_import(body), once)

    def respond(imported: ImportView) -> Response:
        # {"created": n, "updated": m, "unchanged": k}
        return JSONResponse(asdict(imported))

    return await idempotency.once(request, operator, change, respond)
