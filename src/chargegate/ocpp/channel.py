"""A charger's socket once accepted: its frames read from and written to the server's ASGI
callables directly.

Starlette's `WebSocket` is kept for the handshake (accept, refusals, headers), but on every
message it also checks and tracks both sides' states, an extra coroutine each way that a CALL
and its answer paid on the hottest path there is (bench/profile.md). The server's own callables
report the same conditions: a `websocket.disconnect` message, and OSError or RuntimeError once
the socket is gone or closed.
"""

from __future__ import annotations

import contextlib

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chargegate.domain.rate import TokenBucket
from chargegate.ocpp.rpc import TransportClosed

# RFC 6455: policy violation.
POLICY_VIOLATION = 1008


class ChargerSocket(WebSocket):
    """A WebSocket that keeps the server's callables at hand for `Channel`."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self.receive_message = receive
        self.send_message = send


class Channel:
    """A charger's socket; a charger that floods us is cut off rather than served."""

    def __init__(self, socket: ChargerSocket, limit: TokenBucket) -> None:
        self._receive = socket.receive_message
        self._send = socket.send_message
        self._limit = limit

    async def recv(self) -> str:
        try:
            message = await self._receive()
        except (RuntimeError, OSError) as exc:
            raise TransportClosed(str(exc)) from None
        if message["type"] == "websocket.disconnect":
            raise TransportClosed(f"closed with code {message.get('code')}")
        if not self._limit.take():
            await self.close(POLICY_VIOLATION, "message rate limit exceeded")
            raise TransportClosed("message rate limit exceeded")
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            text = data.decode("utf-8", errors="replace")
        return str(text)

    async def send(self, text: str) -> None:
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (RuntimeError, OSError) as exc:
            raise TransportClosed(str(exc)) from None

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
