"""OCPP-J RPC over one WebSocket: CALL / CALLRESULT / CALLERROR framing, schema validation,
one outstanding CALL per direction. Used by the server and by the simulator alike.

Frames are handled one at a time, in arrival order, so a burst of queued messages from a
charger is applied in the order the charger sent it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import ocpp.messages
from ocpp.exceptions import OCPPError, PropertyConstraintViolationError
from ocpp.messages import get_validator
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201

from chargegate.domain.charger_input import storable_text
from chargegate.domain.errors import ChargegateError, OutOfRange
from chargegate.metrics import OCPP_CALLS
from chargegate.ocpp.incoming import SUSPECT_INTEGER, SUSPECT_TEXT, beyond_int32, clean_strings
from chargegate.ocpp.validation import validate_call, validate_result

log = logging.getLogger(__name__)

# Validate inline rather than in the library's thread pool: measured faster, and it still
# validates every frame (see docs/decisions/).
ocpp.messages.ASYNC_VALIDATION = False

# Made once: json.dumps and json.loads build a new encoder or decoder per call when given any
# option. NaN, Infinity and -Infinity parse as the floats they name (see _on_frame).
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder(parse_constant=float).decode

Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[Payload]]

CALL, CALLRESULT, CALLERROR = 2, 3, 4
# Schema versions as the mobilityhouse `ocpp` package names them, by subprotocol.
SCHEMA_VERSION = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}


class TransportClosed(ChargegateError):
    """The WebSocket is gone."""


class CallFailed(ChargegateError):
    """The peer answered our CALL with a CALLERROR (or with a result that breaks the schema).

    Code and description are the peer's words, which end up stored (a failed start's reason):
    bounded to OCPP-J's 255 characters for a description, and to 50 for a code (the longest
    defined one has 29).
    """

    def __init__(self, code: str, description: str) -> None:
        self.code = storable_text(code, 50)
        self.description = storable_text(description, 255)
        super().__init__(f"{self.code}: {self.description}")


class ErrorAnswer(ChargegateError):
    """Raised by a handler to answer with this CALLERROR, sent as given (no spelling or length
    adjustments): the simulator answers so when it misbehaves on purpose."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class InvalidPayload(ChargegateError, ValueError):
    """Raised by a handler for a payload the schema let through but that is still malformed
    (such as a timestamp that is not a date): the charger gets a format CALLERROR."""


# The 2.0.1 error codes, as OCPP 1.6 spells (or lacks) them, and back.
_OCPP16_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    "RpcFrameworkError": "ProtocolError",
    "MessageTypeNotSupported": "ProtocolError",
}
_OCPP201_CODES = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}


class Transport(Protocol):
    async def recv(self) -> str: ...

    async def send(self, text: str) -> None: ...


class RpcSession:
    def __init__(
        self,
        *,
        name: str,
        subprotocol: str,
        transport: Transport,
        handlers: Mapping[str, Handler],
        call_timeout: float,
    ) -> None:
        self.name = name
        self.subprotocol = subprotocol
        self._version = SCHEMA_VERSION[subprotocol]
        self._transport = transport
        self._handlers = handlers
        self._call_timeout = call_timeout
        self._call_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[Payload]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def serve(self) -> None:
        """Handle frames until the transport closes."""
        try:
            while True:
                await self._on_frame(await self._transport.recv())
                # Frames that arrived together would otherwise be handled in one go (most wait
                # on nothing), and every other socket of the node would wait for the burst.
                await asyncio.sleep(0)
        finally:
            self._closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(TransportClosed(f"{self.name}: connection closed"))

    async def call(self, action: str, payload: Payload) -> Payload:
        """Send a CALL and wait for its result. Raises CallFailed, TimeoutError, TransportClosed."""
        async with self._call_lock:
            if self._closed:
                raise TransportClosed(f"{self.name}: connection closed")
            unique_id = str(uuid.uuid4())
            await validate_call(unique_id, action, payload, self._version)
            OCPP_CALLS.messages[action, "out"] += 1
            future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = future
            try:
                await self._send([CALL, unique_id, action, payload])
                result = await asyncio.wait_for(future, self._call_timeout)
            finally:
                self._pending.pop(unique_id, None)
        try:
            await validate_result(unique_id, action, result, self._version)
        except OCPPError as exc:
            raise CallFailed(exc.code, f"invalid {action} response: {exc.details}") from None
        return result

    async def _send(self, frame: list[Any]) -> None:
        await self._transport.send(_encode(frame))

    async def _send_error(
        self, unique_id: str, code: str, description: str, details: Payload | None = None
    ) -> None:
        """Send a CALLERROR; `code` is in 2.0.1 terms and is spelled the way 1.6 wants there."""
        code = _OCPP201_CODES.get(code, code)
        if self._version == "1.6":
            code = _OCPP16_CODES.get(code, code)
        await self._send([CALLERROR, unique_id, code, description[:255], details or {}])

    async def _on_frame(self, raw: str) -> None:
        try:
            # NaN, Infinity and -Infinity (not JSON, RFC 8259) parse as the floats they name, as
            # 1e999 (JSON) parses as infinity anyway: a non-finite number where the schema wants
            # an integer or a string fails validation; one in a meter value is a reading that
            # ocpp.meter skips, so that a station's Ended event still closes its transaction.
            frame = _decode(raw)
        except (ValueError, RecursionError):
            # RecursionError: nesting deeper than the parser goes, such as 30,000 "[" in a frame
            # within the size limit. Uncaught, it dropped the socket without a close frame.
            await self._send_error("-1", "FormatViolation", "Frame is not valid JSON")
            return
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], int):
            await self._send_error(
                "-1", "RpcFrameworkError", "Frame must be a JSON array [type, id, ...]"
            )
            return
        kind = frame[0]
        unique_id = frame[1] if len(frame) > 1 and isinstance(frame[1], str) else None
        if unique_id is None:
            await self._send_error("-1", "RpcFrameworkError", "Frame has no string message id")
            return
        if SUSPECT_TEXT.search(raw):
            # Handled with the text cleaned rather than refused: the charger would only resend
            # it, and its strings (a vendor name, a status info) are seldom what matters.
            frame = clean_strings(frame)
        if kind == CALL:
            await self._on_call(frame, unique_id, SUSPECT_INTEGER.search(raw) is not None)
        elif kind in (CALLRESULT, CALLERROR):
            self._on_answer(frame, unique_id)
        else:
            await self._send_error(
                unique_id, "MessageTypeNotSupported", f"Unknown message type {kind}"
            )

    def _on_answer(self, frame: list[Any], unique_id: str) -> None:
        future = self._pending.get(unique_id)
        if future is None or future.done():
            log.info("answer to no pending call", extra={"peer": self.name, "id": unique_id})
            return
        if frame[0] == CALLRESULT and len(frame) == 3 and isinstance(frame[2], dict):
            future.set_result(frame[2])
        elif frame[0] == CALLERROR and len(frame) >= 4:
            future.set_exception(CallFailed(str(frame[2]), str(frame[3])))
        else:
            future.set_exception(CallFailed("ProtocolError", f"malformed answer frame {frame!r}"))

    async def _on_call(self, frame: list[Any], unique_id: str, big_numbers: bool) -> None:
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            await self._send_error(
                unique_id, "ProtocolError", "CALL must be [2, id, action, {payload}]"
            )
            return
        action, payload = frame[2], frame[3]
        handler = self._handlers.get(action)
        # Unknown actions are counted under one label: chargers must not mint label values.
        OCPP_CALLS.messages[action if handler else "unknown", "in"] += 1
        if handler is None:
            code = "NotSupported" if _known_action(action, self._version) else "NotImplemented"
            await self._send_error(unique_id, code, f"Action {action} is not supported")
            return
        try:
            await validate_call(unique_id, action, payload, self._version)
        except OCPPError as exc:
            cause = exc.details.get("cause") if isinstance(exc.details, dict) else None
            await self._send_error(unique_id, exc.code, f"{action}: {cause or exc.description}")
            return
        except RecursionError:
            # A payload a few hundred levels deep parses, but the schema validator recurses
            # deeper than Python allows; uncaught, this ended the charger's connection.
            await self._send_error(unique_id, "FormatViolation", f"{action}: nested too deeply")
            return
        if big_numbers and (field := self._beyond_int32(action, payload)):
            await self._send_error(
                unique_id,
                "TypeConstraintViolation",
                f"{action}: {field} is beyond the 32 bits of an OCPP integer",
            )
            return
        try:
            began = time.perf_counter()
            try:
                result = await handler(payload)
            finally:
                OCPP_CALLS.observe(action, time.perf_counter() - began)
            await validate_result(unique_id, action, result, self._version)
        except InvalidPayload as exc:
            await self._send_error(unique_id, "FormatViolation", f"{action}: {exc}")
            return
        except OutOfRange as exc:
            # A value the schema allows but we will not store (a connector number, a meter
            # reading): the charger's failure, not ours (InternalError).
            await self._send_error(
                unique_id, PropertyConstraintViolationError.code, f"{action}: {exc.message}"
            )
            return
        except ErrorAnswer as exc:
            await self._send([CALLERROR, unique_id, exc.code, exc.description, {}])
            return
        except Exception:
            log.exception("handling a charger's call failed", extra={"action": action})
            await self._send_error(unique_id, "InternalError", f"{action} could not be processed")
            return
        await self._send([CALLRESULT, unique_id, result])

    def _beyond_int32(self, action: str, payload: Payload) -> str | None:
        """A field beyond 32 bits, which the store's integer columns cannot hold, so it is the
        charger's error found before any handler rather than ours (InternalError) in a write.
        Refused with TypeConstraintViolation: OCPP 2.0.1 (Part 2) defines its integer type as
        32 bits, so the value breaks the field's data type, as a string over its maxLength does
        (which the ocpp library reports as TypeConstraintViolation too)."""
        return beyond_int32(payload, get_validator(CALL, action, self._version).schema)


def _known_action(action: str, version: str) -> bool:
    # Checked against the version's list of actions, never by looking for a schema file of
    # that name: the action is the charger's text, and a path in it ("../") would reach files
    # elsewhere and tell the charger whether they exist.
    return action in _ACTIONS.get(version, frozenset())


_ACTIONS = {
    "1.6": frozenset(action.value for action in Action16),
    "2.0.1": frozenset(action.value for action in Action201),
}
