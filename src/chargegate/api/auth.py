"""`x-api-key` authentication: the header and the client's address, handed to the service
that decides (services.api_keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chargegate.api import roles
from chargegate.api.arguments import runtime
from chargegate.domain.addresses import client_host, client_key
from chargegate.services import api_keys


async def operator_id(request: Request) -> int:
    """The calling operator, for routes to take as a dependency; 403 when the key's role does
    not allow the route (api.roles)."""
    guard: api_keys.ApiGuard = request.app.state.api_guard
    caller = await api_keys.authenticate(
        runtime(request),
        guard,
        request.headers.get("x-api-key", ""),
        # Limited by client_key (an IPv6 /64 is one client); the address itself is logged.
        client=client_key(request.client),
        shown_as=client_host(request.client),
    )
    roles.require(request, caller.role)
    return caller.operator_id


# A route's parameter for the calling operator.
Operator = Annotated[int, Depends(operator_id)]
