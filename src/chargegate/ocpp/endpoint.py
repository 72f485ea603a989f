"""The WebSocket endpoint chargers connect to: `/ocpp/{charge_point_id}`.

The handshake is where a charger is refused: an id OCPP does not allow is HTTP 400 (and looked
up nowhere); no acceptable subprotocol, unknown id, or wrong credentials all end in HTTP 403
before any OCPP message is exchanged (services.admission decides). An address with too many
failed handshakes lately, or too many under way at once, gets 429 before any of these checks; a
charger that has spent its message budget (reconnecting costs from it too) gets 429 after them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from chargegate.domain.addresses import client_host, client_key
from chargegate.domain.identity import (
    CHARGE_POINT_ID_MAX,
    InvalidChargePointId,
    check_charge_point_id,
)
from chargegate.domain.rate import KeyedBuckets, TokenBucket
from chargegate.ocpp.channel import POLICY_VIOLATION, Channel, ChargerSocket
from chargegate.ocpp.client_cert import scope_common_names
from chargegate.ocpp.common import NOT_PROBED
from chargegate.ocpp.connections import REPLACED, Connection, ConnectionRegistry, Superseded
from chargegate.ocpp.rpc import CallFailed, RpcSession, TransportClosed
from chargegate.ocpp.versions import SUPPORTED, Version, negotiate
from chargegate.services import (
    admission,
    charger_configuration,
    charger_reports,
    charging_profiles,
    local_lists,
)
from chargegate.services.runtime import Runtime

log = logging.getLogger(__name__)

# Close code (RFC 6455): try again later (this node is draining).
TRY_AGAIN_LATER = 1013


def basic_auth_password(authorization: str | None, charge_point_id: str) -> str | None:
    """The password from `Authorization: Basic ...`, if the user name is this charger's id."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password if user == charge_point_id else None


async def _deny(websocket: WebSocket, reason: str, bucket: TokenBucket | None) -> None:
    """Refuse a handshake with HTTP 429, and when to retry."""
    retry_after = 1 if bucket is None else bucket.retry_after_s()
    await _answer(websocket, 429, f"{reason}; retry later", {"Retry-After": str(retry_after)})


async def _answer(
    websocket: WebSocket, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Refuse a handshake with this HTTP status and `{"message"}`, or with 403 where the server
    cannot send an HTTP response to a WebSocket request."""
    if "websocket.http.response" not in websocket.scope.get("extensions", {}):
        await websocket.close(POLICY_VIOLATION)
        return
    await websocket.send_denial_response(
        JSONResponse({"message": message}, status_code=status, headers=headers)
    )


class OcppEndpoint:
    def __init__(self, rt: Runtime, registry: ConnectionRegistry) -> None:
        self._rt = rt
        self._registry = registry
        settings = rt.settings
        window = settings.charger_handshake_failure_window_s
        self._failures = KeyedBuckets(
            settings.charger_handshake_failures / window if window > 0 else 0.0,
            settings.charger_handshake_failures,
        )
        # Handshakes under way per client address (the password check may take a while).
        self._pending: dict[str, int] = {}
        # Each charger's message budget, by charge point id rather than by socket: a flooder cut
        # off (1008) must not come back at once with a full bucket, and every handshake costs
        # one. Only ids that passed the handshake get a bucket, and only so many are kept.
        self._messages = KeyedBuckets(settings.charger_rate_per_s, settings.charger_burst)

    async def __call__(self, websocket: ChargerSocket, charge_point_id: str) -> None:
        if self._rt.node.draining:
            await websocket.close(TRY_AGAIN_LATER)
            return
        # Logged as it is; limited by client_key (an IPv6 /64 is one client).
        client = client_host(websocket.client)
        key = client_key(websocket.client)
        failures = self._failures[key]
        # A failure is spent before anything is checked and given back once the charger proved
        # who it is: handshakes sent all at once then get no more password checks (scrypt) than
        # the address has failures left.
        if not failures.take():
            log.info(
                "refused charger handshake: too many failed handshakes from this address",
                extra={"charge_point_id": charge_point_id, "client": client},
            )
            await _deny(websocket, "Too many failed handshakes from this address", failures)
            return
        try:
            check_charge_point_id(charge_point_id)
        except InvalidChargePointId as exc:
            # Before any lookup: such an id is in no table, and must not reach one.
            log.warning(
                "refused charger handshake: %s",
                exc,
                extra={"charge_point_id": charge_point_id[:CHARGE_POINT_ID_MAX], "client": client},
            )
            await _answer(websocket, 400, str(exc))
            return
        if self._pending.get(key, 0) >= self._rt.settings.charger_handshakes_per_ip:
            # Busy, not wrong: nothing was checked.
            failures.give_back()
            log.warning(
                "refused charger handshake: too many handshakes under way from this address",
                extra={"charge_point_id": charge_point_id, "client": client},
            )
            await _deny(websocket, "Too many handshakes under way from this address", None)
            return
        self._pending[key] = self._pending.get(key, 0) + 1
        try:
            version = await self._handshake(websocket, charge_point_id, client, failures)
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key]
        if version is not None:
            await self._serve(websocket, charge_point_id, version)

    async def _handshake(
        self, websocket: WebSocket, charge_point_id: str, client: str, failures: TokenBucket
    ) -> Version | None:
        """Accept the charger (returns its OCPP version) or refuse it with 403 (None)."""
        names = scope_common_names(websocket.scope.get("extensions"))
        presented = admission.Presented(
            password=basic_auth_password(websocket.headers.get("authorization"), charge_point_id),
            certificate_names=None if names is None else tuple(names),
        )
        try:
            registered = await admission.admit(self._rt, charge_point_id, presented)
        except admission.ChargerDisabled as exc:
            # Not a guess: a disabled fleet reconnecting behind one address must not use up
            # the failures its other chargers may have.
            failures.give_back()
            await self._refuse(websocket, charge_point_id, client, str(exc))
            return None
        except admission.ChargerRefused as exc:
            await self._refuse(websocket, charge_point_id, client, str(exc))
            return None
        except Exception:
            # Our failure (the database, say), not the charger's.
            failures.give_back()
            raise
        version = negotiate(websocket.scope.get("subprotocols", []), registered)
        if version is None:
            await self._refuse(
                websocket,
                charge_point_id,
                client,
                "no supported OCPP subprotocol offered",
            )
            return None
        failures.give_back()
        # Charged only once the charger proved who it is: otherwise anyone knowing an id could
        # spend that charger's budget and lock it out.
        budget = self._messages[charge_point_id]
        if not budget.take():
            log.info(
                "refused charger handshake: over its message rate",
                extra={"charge_point_id": charge_point_id, "client": client},
            )
            await _deny(websocket, "Too many messages and connections from this charger", budget)
            return None
        await websocket.accept(subprotocol=version.subprotocol)
        return version

    async def _refuse(
        self,
        websocket: WebSocket,
        charge_point_id: str,
        client: str,
        reason: str,
    ) -> None:
        log.warning(
            "refused charger: %s",
            reason,
            extra={
                "charge_point_id": charge_point_id,
                "client": client,
                "supported": SUPPORTED,
                # Whether credentials were sent at all; the password itself is never logged.
                "basic_auth": websocket.headers.get("authorization") is not None,
            },
        )
        await websocket.close(POLICY_VIOLATION)

    async def _serve(
        self, websocket: ChargerSocket, charge_point_id: str, version: Version
    ) -> None:
        settings = self._rt.settings
        transport = Channel(websocket, self._messages[charge_point_id])
        # Started by the first boot rather than waiting for it: a task and an event per
        # connection for as long as it lasts cost more memory than the rest of our session.
        probe: asyncio.Task[None] | None = None

        def booted() -> None:
            nonlocal probe
            if probe is None:
                probe = asyncio.create_task(self._probe(charge_point_id, session, version))

        session = RpcSession(
            name=charge_point_id,
            subprotocol=version.subprotocol,
            transport=transport,
            handlers=version.handlers(self._rt, charge_point_id, booted),
            call_timeout=settings.call_timeout_s,
        )
        try:
            epoch = await charger_reports.connected(self._rt, charge_point_id, version.subprotocol)
        except LookupError:
            # Disabled or deleted between its admission and now.
            await websocket.close(POLICY_VIOLATION)
            return
        self._rt.bus.evict(charge_point_id, epoch)
        connection = Connection(session, epoch, transport, version)
        try:
            replaced = self._registry.attach(charge_point_id, connection)
        except Superseded:
            # Another node claimed a newer epoch between our claim and now.
            await websocket.close(REPLACED, "the charger connected to another node")
            return
        if replaced is not None:
            # The charger came back on a new socket; the old one is half-open at best.
            await replaced.socket.close(REPLACED, "replaced by a newer connection")
        log.info("charger connected", extra={"charge_point_id": charge_point_id, "epoch": epoch})
        try:
            await session.serve()
        except TransportClosed:
            pass
        finally:
            if probe is not None:
                probe.cancel()
            self._registry.detach(charge_point_id, epoch)
            charger_reports.disconnected(self._rt, charge_point_id, epoch)
            log.info("charger disconnected", extra={"charge_point_id": charge_point_id})

    async def _probe(self, charge_point_id: str, session: RpcSession, version: Version) -> None:
        """After boot, ask whether the charger takes charging profiles (for the fail-safe) and
        whether it has a local authorization list (which is then brought in sync)."""
        try:
            probed = await version.probe(session)
        except (CallFailed, TimeoutError, TransportClosed):
            probed = NOT_PROBED
        # Cancelled when the socket closes, which may be just as this writes: a write cut off
        # half-done drops its database connection with the transaction (and SQLite's one write
        # lock) still held, and every other write then waits on it for busy_timeout and fails.
        await asyncio.shield(
            charger_reports.smart_charging_known(
                self._rt, charge_point_id, probed.smart_charging, probed.feature_profiles
            )
        )
        await asyncio.shield(
            local_lists.capabilities_known(self._rt, charge_point_id, probed.local_list)
        )
        await asyncio.shield(
            charging_profiles.resend(self._rt, charge_point_id, probed.smart_charging)
        )
        if probed.configuration is not None:
            await asyncio.shield(
                charger_configuration.probed(self._rt, charge_point_id, probed.configuration)
            )
