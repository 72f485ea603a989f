"""Chargers' WebSockets, `/ocpp/{charge_point_id}`, handed to the OCPP endpoint straight from the
outermost middleware.

Through FastAPI's router a socket kept a dozen frames alive for as long as it was open (the
API's middleware, the router, exception handlers and exit stacks, none of which does anything
for a charger's socket), each of them also on the path of every message sent: about a fifth of
an idle charger's memory. Uvicorn's own proxy-header handling still runs before this, so the
client address seen is the one the API sees. Any other WebSocket path goes on to the router (which
has no route for it, and refuses it).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from chargegate.ocpp.channel import ChargerSocket
from chargegate.ocpp.endpoint import OcppEndpoint

# As Starlette's router matches `/ocpp/{charge_point_id}`: one non-empty path segment.
_PATH = re.compile(r"/ocpp/([^/]+)")


class ChargerSockets:
    def __init__(self, app: ASGIApp, endpoint: OcppEndpoint) -> None:
        self.app = app
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (match := _PATH.fullmatch(scope["path"])):
            await self._endpoint(ChargerSocket(scope, receive, send), match[1])
            return
        await self.app(scope, receive, send)
