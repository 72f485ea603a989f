"""`Idempotency-Key` on POST /1.2/transactions and PATCH /1.2/transactions/<uuid>: a retry
with the same key gets the first answer again and changes nothing; the same key with another
request is refused (422)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from chargegate.api.arguments import runtime
from chargegate.api.errors import message
from chargegate.domain.errors import InvalidArgument
from chargegate.services import idempotency as idempotency_service

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


async def once(
    request: Request, operator_id: int, run: Callable[[], Awaitable[Response]]
) -> Response:
    """Run the request, or answer a retry of it from the record of its first run.

    Only successful answers are kept: an error changed nothing, so the retry runs again (and
    a transient error does not stick to the key)."""
    key = request.headers.get(HEADER)
    if key is None:
        return await run()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArgument(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    rt = runtime(request)
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path}\n".encode() + await request.body()
    ).hexdigest()
    record = await idempotency_service.claim(rt, operator_id, key, fingerprint)
    if record is not None:
        if record.fingerprint != fingerprint:
            return message(
                422,
                f"This {HEADER} was already used with a different request (method, path or "
                "body): use a new key for a new request",
            )
        if record.status_code is None:
            return message(
                409,
                f"A request with this {HEADER} is being processed, or was interrupted by a "
                "restart: retry shortly; if this persists, look the result up with GET "
                "/1.2/transactions before sending it again with a new key",
            )
        return Response(
            content=record.response_body or b"",
            status_code=record.status_code,
            media_type="application/json" if record.response_body else None,
            headers={REPLAYED_HEADER: "true"},
        )
    try:
        response = await run()
    except BaseException:
        await idempotency_service.release(rt, operator_id, key)
        raise
    if response.status_code >= 300:
        await idempotency_service.release(rt, operator_id, key)
        return response
    body = bytes(response.body).decode() if response.body else None
    await idempotency_service.complete(rt, operator_id, key, response.status_code, body)
    return response
