"""`x-api-key` authentication: which operator is calling, and whether it is within its rate."""

from __future__ import annotations

import asyncio
import logging

from fastapi import Request

from chargegate.api.errors import TooManyRequests, Unauthorized
from chargegate.config import Settings
from chargegate.domain.credentials import (
    PasswordCache,
    api_key_lookup,
    hash_api_key,
    is_legacy_api_key_hash,
    verify_api_key,
)
from chargegate.domain.rate import KeyedBuckets
from chargegate.services.runtime import Runtime
from chargegate.store import operators as operator_store

log = logging.getLogger(__name__)

# One message for every refused key (missing, malformed, unknown, wrong, revoked): which of
# these it was would tell a guesser which key ids exist.
UNAUTHORIZED = "Incorrect credentials: send a valid API key in the x-api-key header"


class ApiGuard:
    """This node's memory for the API: keys already verified, and the rate limits."""

    def __init__(self, settings: Settings) -> None:
        self.verified = PasswordCache()
        self._per_key = KeyedBuckets(settings.api_rate_per_s, settings.api_burst)
        self._rate_text = f"{settings.api_rate_per_s:g} per second (bursts of {settings.api_burst})"
        window = settings.api_auth_failure_window_s
        self._failures = KeyedBuckets(
            settings.api_auth_failures / window if window > 0 else 0.0,
            settings.api_auth_failures,
        )

    def within_rate(self, api_key_id: int) -> None:
        bucket = self._per_key[api_key_id]
        if not bucket.take():
            raise TooManyRequests(
                f"Too many requests with this API key: at most {self._rate_text}; "
                "retry after the time in the Retry-After header",
                bucket.retry_after_s(),
            )

    def may_try(self, client: str) -> None:
        bucket = self._failures[client]
        if not bucket.available():
            raise TooManyRequests(
                "Too many requests with invalid API keys from this address; "
                "retry after the time in the Retry-After header with a valid x-api-key",
                bucket.retry_after_s(),
            )

    def failed(self, client: str) -> None:
        self._failures[client].take()


def client_address(request: Request) -> str:
    # Behind a trusted proxy uvicorn has already put the forwarded client address here.
    return request.client.host if request.client else "unknown"


async def operator_id(request: Request) -> int:
    rt: Runtime = request.app.state.runtime
    guard: ApiGuard = request.app.state.api_guard
    key = request.headers.get("x-api-key", "")
    lookup = api_key_lookup(key)
    api_key = None
    if lookup is not None:
        # Read on every request, never cached: a revocation applies at once on every node.
        async with rt.reads() as session:
            api_key = await operator_store.find_api_key(session, lookup)
    stored = None if api_key is None else api_key.key_hash
    if api_key is not None and stored is not None and guard.verified.known_good(key, stored):
        guard.within_rate(api_key.id)
        return api_key.operator_id
    client = client_address(request)
    # Checked only now, so that a client whose key is already known good here is never locked
    # out by someone else guessing from the same address (a shared NAT or proxy).
    guard.may_try(client)
    # scrypt is deliberately slow: keep it off the event loop that serves everyone else.
    if lookup is None or not await asyncio.to_thread(verify_api_key, key, stored):
        guard.failed(client)
        log.info("API key refused", extra={"client": client, "lookup": lookup})
        raise Unauthorized(UNAUTHORIZED)
    assert api_key is not None and stored is not None
    if is_legacy_api_key_hash(stored):
        stored = await _rehash(rt, api_key.id, key, stored)
    guard.verified.remember(key, stored)
    guard.within_rate(api_key.id)
    return api_key.operator_id


async def _rehash(rt: Runtime, api_key_id: int, key: str, legacy: str) -> str:
    """A key stored with the old fast hash moves to scrypt the first time it is used."""
    new_hash = await asyncio.to_thread(hash_api_key, key)
    async with rt.sessions() as session, session.begin():
        await operator_store.replace_api_key_hash(session, api_key_id, legacy, new_hash)
    log.info("API key rehashed with scrypt", extra={"api_key_id": api_key_id})
    return new_hash
