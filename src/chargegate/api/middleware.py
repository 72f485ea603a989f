"""HTTP middleware of the API: per-request context (a request id, echoed and on every log line
of the request, and the latency histogram) and the request body limit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chargegate.api import errors
from chargegate.logs import REQUEST_ID
from chargegate.metrics import API_LATENCY

HEADER = "x-request-id"
MAX_LENGTH = 128


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        # A caller's id is kept when it is sane, so its logs and ours line up.
        request_id = given if 0 < len(given) <= MAX_LENGTH and given.isprintable() else ""
        request_id = request_id or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        started = False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER.encode(), request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            # Answered here, inside the request's context, rather than by Starlette's outermost
            # error middleware: the 500 and its log line then carry the request id too.
            response = await errors.unexpected(Request(scope), exc)
            await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            API_LATENCY.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - began
            )
            REQUEST_ID.reset(token)


class BodyLimit:
    """Refuse API request bodies over `max_bytes` (or its path's own limit in `per_path`) with
    413: at once when Content-Length says so, else as soon as a streamed (chunked) body goes
    past it, before it is all buffered."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self._app = app
        self._max = max_bytes
        self._per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._per_path.get(scope["path"], self._max)
        text = f"Request body too large: at most {limit} bytes are accepted"
        declared = dict(scope["headers"]).get(b"content-length")
        # A malformed Content-Length never gets here: the HTTP parser refuses it with 400.
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await errors.message(413, text)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised where the route reads its body, so the API's error handler
                    # answers it as {"message": ...} like every other error.
                    raise HTTPException(413, text)
            return message

        await self._app(scope, limited, send)
