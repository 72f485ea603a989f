"""`x-api-key` authentication: which operator is calling."""

from __future__ import annotations

from fastapi import Request

from chargegate.api.errors import Unauthorized
from chargegate.domain.credentials import api_key_lookup, api_key_matches
from chargegate.services.runtime import Runtime
from chargegate.store import operators as operator_store

UNAUTHORIZED = "Incorrect credentials: send a valid API key in the x-api-key header"


async def operator_id(request: Request) -> int:
    rt: Runtime = request.app.state.runtime
    key = request.headers.get("x-api-key", "")
    lookup = api_key_lookup(key)
    if lookup is None:
        raise Unauthorized(UNAUTHORIZED)
    async with rt.sessions() as session:
        api_key = await operator_store.find_api_key(session, lookup)
    if api_key is None or not api_key_matches(key, api_key.key_hash):
        raise Unauthorized(UNAUTHORIZED)
    return api_key.operator_id
