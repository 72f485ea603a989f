"""`Idempotency-Key` on POST /1.2/transactions, PATCH /1.2/transactions/<uuid>, POST
/1.2/chargers/<id>/commands and POST /1.2/tokens:import: a retry with the same key gets the first
answer again and changes nothing; the same key with another request is refused (422).

The service that makes the change records its answer in the change's own transaction (see
services.idempotency): a change is never committed without the record of its answer, nor a
record without its change."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request, Response

from chargegate.api.arguments import runtime
from chargegate.api.errors import message
from chargegate.domain.errors import InvalidArgument
from chargegate.services import idempotency as idempotency_service
from chargegate.services.idempotency import Answer, Earlier, Idempotency

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

View = TypeVar("View")


async def once(
    request: Request,
    operator_id: int,
    change: Callable[[Idempotency[View] | None], Awaitable[View | Earlier]],
    respond: Callable[[View], Response],
) -> Response:
    """Make the change and answer with its view, or answer a retry of it from the record of
    its first run.

    `change` checks the request and calls the service with the key (None without one). Only
    successful answers are kept: an error changed nothing, so the retry runs again (and a
    transient error does not stick to the key)."""
    key = request.headers.get(HEADER)
    if key is None:
        return _answer(await change(None), respond, "", "")
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArgument(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    endpoint = f"{request.method} {request.url.path}"
    fingerprint = hashlib.sha256(f"{endpoint}\n".encode() + await request.body()).hexdigest()
    # A retry is answered from the record before its request is checked again.
    earlier = await idempotency_service.earlier(runtime(request), operator_id, key)
    if earlier is not None:
        return _replay(earlier, fingerprint, endpoint)

    def recorded(view: View) -> Answer:
        response = respond(view)
        return Answer(response.status_code, bytes(response.body).decode() or None)

    return _answer(
        await change(Idempotency(key, fingerprint, recorded)), respond, fingerprint, endpoint
    )


def _answer(
    result: View | Earlier, respond: Callable[[View], Response], fingerprint: str, endpoint: str
) -> Response:
    if isinstance(result, Earlier):
        return _replay(result, fingerprint, endpoint)
    return respond(result)


def _replay(earlier: Earlier, fingerprint: str, endpoint: str) -> Response:
    if earlier.fingerprint != fingerprint:
        return message(
            422,
            f"This {HEADER} was already used with a different request (method, path or "
            "body): use a new key for a new request",
        )
    if earlier.status_code is None:
        return message(
            409,
            f"A request with this {HEADER} is being processed, or was interrupted by a "
            "restart: retry shortly; if this persists, check whether your "
            f"{endpoint} took effect before sending it again with a new key",
        )
    return Response(
        content=earlier.response_body or b"",
        status_code=earlier.status_code,
        media_type="application/json" if earlier.response_body else None,
        headers={REPLAYED_HEADER: "true"},
    )
