"""Every error leaves as the seed's `{"message": "..."}` body with its status code."""

from __future__ import annotations

import logging
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from chargegate.domain.errors import (
    AlreadyEnded,
    Conflict,
    DomainError,
    Forbidden,
    InvalidArgument,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
)

log = logging.getLogger(__name__)


STATUS: dict[type[DomainError], int] = {
    InvalidArgument: 400,
    Unauthorized: 401,
    AlreadyEnded: 403,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    TooManyRequests: 429,
}


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def too_many(text: str, retry_after_s: int) -> JSONResponse:
    return message(429, text, {"Retry-After": str(retry_after_s)})


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, TooManyRequests):
        return too_many(exc.message, exc.retry_after_s)
    # Its class's status, or the nearest of its bases' (a Conflict of a service's own, say).
    status = next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 400)
    if exc.items:
        body = {
            "message": exc.message,
            "errors": [asdict(item) for item in exc.items],
        }
        return JSONResponse(body, status_code=status)
    return message(status, exc.message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    text = exc.detail if isinstance(exc.detail, str) else "Request failed"
    if exc.status_code == 404:
        text = f"No such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        text = f"Method {request.method} is not allowed on {request.url.path}"
    return message(exc.status_code, text)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return message(
        500,
        "Internal error while handling the request. Check with a GET whether it took effect "
        "before retrying, and report it with the time of the request if it persists.",
    )


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client closed its connection before sending the whole body: nothing was done, and
    the answer reaches no one. Not an error of ours, so neither logged as one nor a 500."""
    log.info("client went away mid-request", extra={"path": request.url.path})
    return message(400, "The request body was cut off: the client closed the connection")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    return message(400, f"Invalid request: {exc}")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, unexpected)
