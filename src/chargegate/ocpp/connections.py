"""The chargers whose sockets this node holds, and sending orders to them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from chargegate.domain.errors import ChargegateError
from chargegate.domain.lru import Lru
from chargegate.ocpp import local_lists
from chargegate.ocpp.local_lists import MISSING
from chargegate.ocpp.rpc import CallFailed, Payload, RpcSession, TransportClosed
from chargegate.ocpp.versions import Version
from chargegate.services.commands import NotDelivered, Order, Reply

# Close code (private range) for a socket replaced by a newer connection of the same charger.
REPLACED = 4000
# Take-overs remembered for chargers not connected here. One matters only in the moment between a
# connection's epoch claim and its registration, so the most recent ones are plenty, and every
# charger connecting to another node (made-up ids on auto-registration too) is not kept for ever.
TAKEN_OVER_KEPT = 10_000


class Superseded(ChargegateError):
    """The charger was taken over by another node before this connection was registered."""


class Closable(Protocol):
    async def close(self, code: int, reason: str) -> None: ...


@dataclass(slots=True)
class Connection:
    session: RpcSession
    epoch: int
    socket: Closable
    version: Version


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}
        # Take-overs announced while the charger had no registered connection here: a connection
        # whose epoch was claimed just before (and is registered just after) is already stale.
        self._taken_over: Lru[str, int] = Lru(TAKEN_OVER_KEPT)

    def __len__(self) -> int:
        return len(self._connections)

    def attach(self, charge_point_id: str, connection: Connection) -> Connection | None:
        """Register a new connection; returns the one it replaces (a half-open old socket).
        Raises Superseded if another node has announced a newer epoch meanwhile."""
        announced = self._taken_over.get(charge_point_id) or 0
        self._taken_over.forget(charge_point_id)
        if announced > connection.epoch:
            raise Superseded(f"{charge_point_id} is connected to another node")
        previous = self._connections.get(charge_point_id)
        self._connections[charge_point_id] = connection
        return previous

    def detach(self, charge_point_id: str, epoch: int) -> None:
        current = self._connections.get(charge_point_id)
        if current is not None and current.epoch == epoch:
            del self._connections[charge_point_id]

    async def evict(self, charge_point_id: str, epoch: int) -> None:
        """Another node took this charger over at `epoch` (or the charger was disabled or
        deleted): close our older socket, if any."""
        current = self._connections.get(charge_point_id)
        if current is None:
            announced = self._taken_over.get(charge_point_id) or 0
            self._taken_over.put(charge_point_id, max(epoch, announced))
        elif current.epoch < epoch:
            del self._connections[charge_point_id]
            await current.socket.close(
                REPLACED, "superseded: connected to another node, or disabled by its operator"
            )

    async def close_all(self, code: int, reason: str) -> None:
        for connection in list(self._connections.values()):
            await connection.socket.close(code, reason)

    async def execute(self, charge_point_id: str, epoch: int, order: Order) -> Reply:
        connection = self._connections.get(charge_point_id)
        if connection is None or connection.epoch != epoch:
            raise NotDelivered(f"charger {charge_point_id} is not connected to this node")
        version = connection.version
        action, payload = version.to_call(order)
        call = partial(_call, connection.session)
        if order.local_list is not None:
            return await local_lists.sync(
                call, version.local_list, order.local_list, (action, payload)
            )
        try:
            result = await call(action, payload)
        except CallFailed as exc:
            return Reply(accepted=False, detail=call_error(action, exc))
        return replace(version.to_reply(action, result), answer=result)


def call_error(action: str, exc: CallFailed) -> str:
    """Why a CALLERROR failed a command: a charger without the message says NotSupported or
    NotImplemented."""
    said = f"{exc.code}: {exc.description}"
    if exc.code in MISSING:
        return f"The charger does not support {action} (it answered {said})"
    return f"The charger answered {action} with an error ({said})"


async def _call(session: RpcSession, action: str, payload: Payload) -> Payload:
    """A CALL's answer; NotDelivered when none came."""
    try:
        return await session.call(action, payload)
    except TimeoutError:
        raise NotDelivered(f"no answer to {action}") from None
    except TransportClosed:
        raise NotDelivered(f"connection lost during {action}") from None
