"""A simulated OCPP 1.6J charger.

It boots, reports connector status, heartbeats, accepts remote start and stop, meters energy,
and behaves like a real charger when the network fails: messages about transactions are kept
while offline and sent, in order, after it reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from chargegate.domain.times import format_ocpp, utcnow
from chargegate.ocpp.rpc import CallFailed, Handler, Payload, RpcSession, TransportClosed

SUBPROTOCOL = "ocpp1.6"


@dataclass(slots=True)
class Connector:
    connector_id: int
    status: str = "Available"
    id_tag: str | None = None
    transaction_id: int | None = None
    meter_wh: int = 0


@dataclass(slots=True)
class _Outgoing:
    action: str
    build: Callable[[], Payload]
    # Transaction messages survive disconnects; the rest is dropped while offline.
    durable: bool
    done: asyncio.Future[Payload] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _ClientTransport:
    def __init__(self, websocket: ClientConnection) -> None:
        self._websocket = websocket

    async def recv(self) -> str:
        try:
            message = await self._websocket.recv()
        except websockets.ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from None
        return message if isinstance(message, str) else message.decode()

    async def send(self, text: str) -> None:
        try:
            await self._websocket.send(text)
        except websockets.ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from None


class SimulatedCharger:
    def __init__(
        self,
        *,
        url: str,
        charge_point_id: str,
        connectors: int = 1,
        password: str | None = None,
        meter_interval_s: float = 10.0,
        power_w: int = 7200,
        accept_remote_start: bool = True,
        ev_plugged_in: bool = True,
        heartbeat_s: float = 60.0,
        call_timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.charge_point_id = charge_point_id
        self.password = password
        self.meter_interval_s = meter_interval_s
        self.power_w = power_w
        self.accept_remote_start = accept_remote_start
        self.ev_plugged_in = ev_plugged_in
        self.heartbeat_s = heartbeat_s
        self.call_timeout_s = call_timeout_s
        self.connectors = {n: Connector(n, meter_wh=1000 * n) for n in range(1, connectors + 1)}
        # Every CALL the server sent us, in order: tests count stops with it.
        self.received: list[tuple[str, Payload]] = []
        self.connections = 0
        self._outbox: deque[_Outgoing] = deque()
        self._outbox_ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._session: RpcSession | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sim-{self.charge_point_id}")

    async def stop(self) -> None:
        """Power off: the connection drops without a goodbye from OCPP's point of view."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._background):
            task.cancel()
        self._session = None
        await self._notify()

    @property
    def online(self) -> bool:
        return self._session is not None and not self._session.closed

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with connect(
                    f"{self.url}/{self.charge_point_id}",
                    subprotocols=[websockets.Subprotocol(SUBPROTOCOL)],
                    additional_headers=self._auth_headers(),
                    open_timeout=5,
                    ping_interval=None,
                ) as websocket:
                    backoff = 0.2
                    await self._connected(websocket)
            except (OSError, TimeoutError, websockets.WebSocketException, TransportClosed):
                pass
            self._session = None
            await self._notify()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _auth_headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        token = base64.b64encode(f"{self.charge_point_id}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connected(self, websocket: ClientConnection) -> None:
        session = RpcSession(
            name=self.charge_point_id,
            subprotocol=SUBPROTOCOL,
            transport=_ClientTransport(websocket),
            handlers=self._handlers(),
            call_timeout=self.call_timeout_s,
        )
        tasks = [asyncio.create_task(session.serve())]
        try:
            await session.call(
                "BootNotification",
                {"chargePointVendor": "chargegate", "chargePointModel": "simulator"},
            )
            for connector in self.connectors.values():
                await session.call("StatusNotification", self._status_payload(connector))
            self._session = session
            self.connections += 1
            await self._notify()
            tasks += [
                asyncio.create_task(self._send_outbox(session)),
                asyncio.create_task(self._heartbeat(session)),
                asyncio.create_task(self._meter(session)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- messages to the server ---------------------------------------------------------------

    def enqueue(self, action: str, build: Callable[[], Payload], durable: bool) -> _Outgoing:
        item = _Outgoing(action, build, durable)
        self._outbox.append(item)
        self._outbox_ready.set()
        return item

    async def _send_outbox(self, session: RpcSession) -> None:
        while True:
            while not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            item = self._outbox[0]
            try:
                result = await session.call(item.action, item.build())
            except CallFailed as exc:
                self._outbox.popleft()
                item.done.set_exception(exc)
                continue
            except (TransportClosed, TimeoutError):
                if not item.durable:
                    self._outbox.popleft()
                    item.done.cancel()
                return
            self._outbox.popleft()
            item.done.set_result(result)

    async def _heartbeat(self, session: RpcSession) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await session.call("Heartbeat", {})

    async def _meter(self, session: RpcSession) -> None:
        while True:
            await asyncio.sleep(self.meter_interval_s)
            for connector in self.connectors.values():
                if connector.transaction_id is None:
                    continue
                connector.meter_wh += round(self.power_w * self.meter_interval_s / 3600)
                self.enqueue("MeterValues", self._meter_payload(connector), durable=True)

    def _status_payload(self, connector: Connector) -> Payload:
        return {
            "connectorId": connector.connector_id,
            "errorCode": "NoError",
            "status": connector.status,
            "timestamp": format_ocpp(utcnow()),
        }

    def _meter_payload(self, connector: Connector) -> Callable[[], Payload]:
        reading, at = connector.meter_wh, format_ocpp(utcnow())

        def build() -> Payload:
            payload: Payload = {
                "connectorId": connector.connector_id,
                "meterValue": [
                    {
                        "timestamp": at,
                        "sampledValue": [
                            {
                                "value": str(reading),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            }
            if connector.transaction_id is not None:
                payload["transactionId"] = connector.transaction_id
            return payload

        return build

    async def set_status(self, connector: Connector, status: str) -> None:
        connector.status = status
        payload = self._status_payload(connector)
        self.enqueue("StatusNotification", lambda: payload, durable=False)
        await self._notify()

    # -- charging ----------------------------------------------------------------------------

    async def begin_transaction(self, connector_id: int, id_tag: str) -> int:
        """The EV is plugged in and charging starts (as after a remote start)."""
        connector = self.connectors[connector_id]
        connector.id_tag = id_tag
        await self.set_status(connector, "Preparing")
        at, meter = format_ocpp(utcnow()), connector.meter_wh
        item = self.enqueue(
            "StartTransaction",
            lambda: {
                "connectorId": connector_id,
                "idTag": id_tag,
                "meterStart": meter,
                "timestamp": at,
            },
            durable=True,
        )
        result = await item.done
        connector.transaction_id = int(result["transactionId"])
        if result["idTagInfo"]["status"] != "Accepted":
            await self.end_transaction(connector_id, "DeAuthorized")
            return connector.transaction_id
        await self.set_status(connector, "Charging")
        return connector.transaction_id

    async def end_transaction(self, connector_id: int, reason: str = "Local") -> None:
        """Charging ends at the charger: unplugged, stopped locally, or on request."""
        connector = self.connectors[connector_id]
        transaction_id, id_tag = connector.transaction_id, connector.id_tag
        if transaction_id is None:
            return
        connector.transaction_id = connector.id_tag = None
        at, meter = format_ocpp(utcnow()), connector.meter_wh
        payload: Payload = {
            "transactionId": transaction_id,
            "meterStop": meter,
            "timestamp": at,
            "reason": reason,
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        await self.set_status(connector, "Finishing")
        await self.enqueue("StopTransaction", lambda: payload, durable=True).done
        await self.set_status(connector, "Available")

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _handlers(self) -> dict[str, Handler]:
        async def remote_start(payload: Payload) -> Payload:
            self.received.append(("RemoteStartTransaction", payload))
            await self._notify()
            connector_id = payload.get("connectorId", 1)
            connector = self.connectors.get(connector_id)
            if (
                not self.accept_remote_start
                or connector is None
                or connector.transaction_id is not None
                or connector.id_tag is not None
            ):
                return {"status": "Rejected"}
            if self.ev_plugged_in:
                connector.id_tag = payload["idTag"]
                self._spawn(self.begin_transaction(connector_id, payload["idTag"]))
            return {"status": "Accepted"}

        async def remote_stop(payload: Payload) -> Payload:
            self.received.append(("RemoteStopTransaction", payload))
            await self._notify()
            for connector in self.connectors.values():
                if connector.transaction_id == payload["transactionId"]:
                    self._spawn(self.end_transaction(connector.connector_id, "Remote"))
                    return {"status": "Accepted"}
            return {"status": "Rejected"}

        return {
            "RemoteStartTransaction": remote_start,
            "RemoteStopTransaction": remote_stop,
        }

    def count(self, action: str) -> int:
        return sum(1 for name, _ in self.received if name == action)


async def run_forever(chargers: list[SimulatedCharger]) -> None:
    for charger in chargers:
        charger.start()
    await asyncio.Event().wait()
