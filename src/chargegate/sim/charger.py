"""A simulated charger speaking OCPP 1.6J or 2.0.1.

It boots, reports connector status, heartbeats, accepts remote start and stop, meters energy,
honours the charging profiles it holds (sim.charging_profiles: no energy while the limit is 0,
as after a fail-safe TxProfile's 0 A period begins), and behaves like a real
charger when the network fails: transaction messages are kept while offline and sent, in order,
after it reconnects.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import websockets
from ocpp.v16.enums import ChargingProfileStatus, ChargingRateUnitType
from websockets.asyncio.client import ClientConnection, connect

from chargegate.domain.times import utcnow
from chargegate.ocpp.rpc import CallFailed, Payload, RpcSession, TransportClosed
from chargegate.sim import answers, charging_profiles, configuration, firmware, quirks
from chargegate.sim import reservations as reservations_module
from chargegate.sim.dialects import DIALECTS, FIRMWARE_VERSION, Connector
from chargegate.sim.local_list import LocalList

__all__ = ["Connector", "LocalList", "SimulatedCharger", "run_forever"]


@dataclass(slots=True)
class _Outgoing:
    action: str
    payload: Payload
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
        ocpp_version: str = "1.6",
        password: str | None = None,
        meter_interval_s: float = 10.0,
        power_w: int = 7200,
        accept_remote_start: bool = True,
        ev_plugged_in: bool = True,
        smart_charging: bool = False,
        smart_charging_refusal: str | None = ChargingProfileStatus.rejected,
        rate_units: frozenset[str] = frozenset(ChargingRateUnitType),
        keeps_profiles: bool = True,
        max_current_a: float = 32.0,
        stop_delay_s: float = 0.0,
        stop_answer_delay_s: float = 0.0,
        heartbeat_s: float = 60.0,
        call_timeout_s: float = 10.0,
        start_answer_names_transaction: bool = False,
        refuse_stops: int = 0,
        bad_strings: bool = False,
        bad_meter: bool = False,
        clear_cache: str | None = "Accepted",
        local_list: LocalList | None = None,
        reservations: str | None = "Accepted",
        reserve_connector_zero: bool = True,
        firmware_version: str = FIRMWARE_VERSION,
        firmware_update: str | None = firmware.INSTALLED,
        diagnostics: str | None = firmware.UPLOADED,
        reset: str | None = "Accepted",
        unlock: str | None = "Unlocked",
        availability: str | None = "Accepted",
        triggers: str = "Accepted",
        data_transfer: str | None = "Accepted",
        reboot_s: float = 0.2,
        report_part_size: int = 3,
        report_parts_sent: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.charge_point_id = charge_point_id
        self.dialect = DIALECTS[ocpp_version]
        self.password = password
        self.meter_interval_s = meter_interval_s
        self.power_w = power_w
        self.accept_remote_start = accept_remote_start
        self.ev_plugged_in = ev_plugged_in
        self.smart_charging = smart_charging
        # Smart charging (sim.smart_charging): without it, SetChargingProfile is answered with
        # smart_charging_refusal (1.6 NotSupported or Rejected; None: the message is not
        # implemented); the units its schedules may use (a station that limits only in W
        # rejects A); whether its profiles survive a reboot; its own maximum current.
        self.smart_charging_refusal = smart_charging_refusal
        self.rate_units = rate_units
        self.keeps_profiles = keeps_profiles
        self.max_current_a = max_current_a
        self.charging_profiles = charging_profiles.Profiles()
        # Delays for crash tests: before the charger reports a remote stop done, and before it
        # answers the stop request at all.
        self.stop_delay_s = stop_delay_s
        self.stop_answer_delay_s = stop_answer_delay_s
        self.heartbeat_s = heartbeat_s
        # Quirks of real stations: a 2.0.1 start answer that carries the transactionId the
        # station will use; the first `refuse_stops` stop requests answered Rejected.
        self.start_answer_names_transaction = start_answer_names_transaction
        self.refuse_stops = refuse_stops
        # Faults of real chargers (sim.quirks): text no database stores in what it reports
        # and in the CALLERROR it refuses a start with; meter readings no meter makes.
        self.bad_strings = bad_strings
        self.bad_meter = bad_meter
        # The ClearCache answer: Rejected where the charger keeps no cache, None where it does
        # not implement the message at all (it then answers NotImplemented / NotSupported).
        self.clear_cache = clear_cache
        # Its local authorization list (None: a charger without one).
        self.local_list = local_list
        # The ReserveNow answer for a free connector: Rejected where reservations are switched
        # off, None without the Reservation profile (NotImplemented / NotSupported); and whether
        # the charger as a whole may be reserved (1.6 ReserveConnectorZeroSupported).
        self.reservations = reservations
        self.reserve_connector_zero = reserve_connector_zero
        self.reservations_held: dict[int, reservations_module.Held] = {}
        # The firmware it boots with; how an UpdateFirmware ends (sim.firmware: Installed,
        # DownloadFailed, InstallationFailed) and a diagnostics upload (Uploaded, UploadFailed);
        # None: a charger without the FirmwareManagement profile (2.0.1: without the message).
        self.firmware_version = firmware_version
        self.firmware_update = firmware_update
        self.diagnostics = diagnostics
        # The answers to the operator's commands (sim.operations) where it would do as asked:
        # Rejected (or UnlockFailed, NotSupported) where it will not; None where it does not
        # implement the message (NotImplemented / NotSupported). A reset takes reboot_s.
        self.reset = reset
        self.unlock = unlock
        self.availability = availability
        self.triggers = triggers
        self.data_transfer = data_transfer
        self.reboot_s = reboot_s
        self.boots = 0
        # Crash tests: the operator's commands are taken but not answered while set.
        self.hold_answers = False
        self._boot_reason: str | None = None
        self.call_timeout_s = call_timeout_s
        # Its own configuration keys (1.6) and device-model variables (2.0.1), as changed; a
        # full report goes in NotifyReport parts of report_part_size variables, and stops after
        # report_parts_sent parts if set (a station that lost the rest).
        self.settings_16 = configuration.keys_16()
        self.settings_201 = configuration.variables_201()
        self.report_part_size = report_part_size
        self.report_parts_sent = report_parts_sent
        self.connectors = {n: Connector(n, meter_wh=1000 * n) for n in range(1, connectors + 1)}
        # Every CALL the server sent us, in order: tests count starts and stops with it.
        self.received: list[tuple[str, Payload]] = []
        # Every CALL we sent that the server answered, with its answer: (action, call, answer).
        self.answered: list[tuple[str, Payload, Payload]] = []
        self.connections = 0
        self.outbox: deque[_Outgoing] = deque()
        self._outbox_ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._session: RpcSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._meter_task: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Power on (or restore the network): connect, and keep reconnecting."""
        self._task = asyncio.create_task(self._run(), name=f"sim-{self.charge_point_id}")
        if self._meter_task is None:
            self._meter_task = asyncio.create_task(self._meter())

    async def stop(self) -> None:
        """Cut the network: the connection drops without a goodbye. Charging goes on, and what
        the charger has to report waits in its queue."""
        task, self._task = self._task, None
        # One cancel may not be enough: on Python 3.11 a cancellation that arrives as a timeout
        # (connect, close handshake) expires can come out as TimeoutError, which the reconnect
        # loop takes for a failed connection.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1)
        self._session = None
        await self.notify()

    async def power_off(self) -> None:
        await self.stop()
        for task in [self._meter_task, *self._background]:
            if task is not None:
                task.cancel()
        self._meter_task = None

    @property
    def online(self) -> bool:
        return self._session is not None and not self._session.closed

    @property
    def start_requests(self) -> int:
        return self.count(self.dialect.start_request)

    @property
    def stop_requests(self) -> int:
        return self.count(self.dialect.stop_request)

    def requests(self, action: str) -> list[Payload]:
        """The payloads of the server's CALLs of one action, in order."""
        return [payload for name, payload in self.received if name == action]

    def count(self, action: str) -> int:
        return len(self.requests(action))

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with connect(
                    f"{self.url}/{self.charge_point_id}",
                    subprotocols=[websockets.Subprotocol(self.dialect.subprotocol)],
                    additional_headers=self._auth_headers(),
                    open_timeout=5,
                    ping_interval=None,
                ) as websocket:
                    backoff = 0.2
                    await self._connected(websocket)
            except (OSError, TimeoutError, websockets.WebSocketException, TransportClosed):
                pass
            self._session = None
            await self.notify()
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
            subprotocol=self.dialect.subprotocol,
            transport=_ClientTransport(websocket),
            handlers=answers.handlers(self),
            call_timeout=self.call_timeout_s,
        )
        tasks = [asyncio.create_task(session.serve())]
        try:
            action, boot = self.dialect.boot(self.firmware_version)
            if self._boot_reason is not None and "reason" in boot:
                boot["reason"] = self._boot_reason
            worded = self._worded((action, boot))
            self.answered.append((*worded, await session.call(*worded)))
            self.boots += 1
            for connector in self.connectors.values():
                await session.call(*self._worded(self.dialect.status(connector)))
            self._session = session
            self.connections += 1
            await self.notify()
            tasks += [
                asyncio.create_task(self._send_outbox(session)),
                asyncio.create_task(self._heartbeat(session)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- messages to the server ---------------------------------------------------------------

    def enqueue(self, message: tuple[str, Payload], durable: bool) -> _Outgoing:
        item = _Outgoing(*self._worded(message), durable)
        self.outbox.append(item)
        self._outbox_ready.set()
        return item

    def _worded(self, message: tuple[str, Payload]) -> tuple[str, Payload]:
        """The message with this charger's faults in it."""
        if self.bad_strings:
            message = quirks.bad_strings(message)
        if self.bad_meter:
            message = quirks.bad_meter(message)
        return message

    async def _send_outbox(self, session: RpcSession) -> None:
        while True:
            while not self.outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            item = self.outbox[0]
            try:
                result = await session.call(item.action, item.payload)
            except CallFailed as exc:
                self.outbox.popleft()
                item.done.set_exception(exc)
                continue
            except (TransportClosed, TimeoutError):
                if not item.durable:
                    self.outbox.popleft()
                    item.done.cancel()
                return
            self.outbox.popleft()
            self.answered.append((item.action, item.payload, result))
            item.done.set_result(result)

    async def _heartbeat(self, session: RpcSession) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await session.call("Heartbeat", {})

    async def _meter(self) -> None:
        while True:
            await asyncio.sleep(self.meter_interval_s)
            for connector in self.connectors.values():
                if connector.transaction_id is None or connector.status == "Finishing":
                    continue
                limit_w = self.applied_limit(connector.connector_id, ChargingRateUnitType.watts)
                if limit_w == 0:
                    if connector.status != "SuspendedEVSE":
                        await self.set_status(connector, "SuspendedEVSE")
                    continue
                if connector.status == "SuspendedEVSE":
                    await self.set_status(connector, "Charging")
                power_w = self.power_w if limit_w is None else min(self.power_w, limit_w)
                connector.meter_wh += round(power_w * self.meter_interval_s / 3600)
                self.enqueue(self.dialect.metered(connector), durable=True)

    def applied_limit(
        self, connector_id: int, unit: str = ChargingRateUnitType.amps, at: datetime | None = None
    ) -> float | None:
        """The limit its profiles set on a connector (0: the whole charger) now or `at`, in A
        or W: the lower of the charger's maximum profile and the transaction's (TxProfile, else
        TxDefaultProfile). None: no profile limits it."""
        return self.charging_profiles.limit(
            connector_id, at or utcnow(), self.started_at(connector_id), unit
        )

    def started_at(self, connector_id: int) -> datetime | None:
        """When the connector's transaction began (None: none runs, or port 0)."""
        connector = self.connectors.get(connector_id)
        if connector is None or connector.transaction_id is None:
            return None
        return connector.started_at

    def max_limit(self, unit: str) -> float:
        """Its own maximum, where no profile limits it (three phases, as OCPP assumes)."""
        phases = charging_profiles.PHASES
        volts = self.charging_profiles.voltage_v
        if unit == ChargingRateUnitType.amps:
            return self.max_current_a
        return self.max_current_a * volts * phases

    async def set_status(self, connector: Connector, status: str) -> None:
        connector.status = status
        self.enqueue(self.dialect.status(connector), durable=False)
        await self.notify()

    # -- charging ----------------------------------------------------------------------------

    async def begin_transaction(
        self, connector_id: int, id_tag: str, remote_start_id: int | None = None
    ) -> None:
        """The EV is plugged in and charging starts (as after a remote start)."""
        connector = self.connectors[connector_id]
        connector.id_tag = id_tag
        connector.remote_start_id = remote_start_id
        await self.set_status(connector, "Preparing")
        connector.started_at = utcnow()
        result = await self.enqueue(self.dialect.started(connector), durable=True).done
        connector.reservation_id = None
        if "transactionId" in result:
            connector.transaction_id = int(result["transactionId"])
        token_info = result.get("idTagInfo") or result.get("idTokenInfo") or {}
        if token_info.get("status", "Accepted") != "Accepted":
            await self.end_transaction(connector_id, "DeAuthorized")
            return
        await self.set_status(connector, "Charging")

    async def present_card(self, connector_id: int, id_tag: str) -> str:
        """A driver holds a card to the reader: the charger asks (Authorize, which names its
        group) and starts charging only if the answer is Accepted (TC_023: Invalid, Expired,
        Blocked start nothing) and the connector is not held for another card (a reservation
        the card or its group holds is used). Returns the answer's status."""
        connector = self.connectors[connector_id]
        answer = await self.enqueue(self.dialect.authorize(id_tag), durable=False).done
        info = answer.get("idTagInfo") or answer["idTokenInfo"]
        status = str(info["status"])
        group = info.get("parentIdTag") or (info.get("groupIdToken") or {}).get("idToken")
        if status == "Accepted" and reservations_module.take(self, connector, id_tag, group):
            await self.begin_transaction(connector_id, id_tag)
        return status

    async def plug_in(self, connector_id: int) -> None:
        """The cable goes in first: a 2.0.1 station begins its transaction then, with nobody
        authorised yet; a start request later authorises that very transaction."""
        connector = self.connectors[connector_id]
        await self.set_status(connector, "Occupied")
        connector.started_at = utcnow()
        await self.enqueue(self.dialect.started(connector), durable=True).done

    async def authorise(self, connector_id: int, id_tag: str, remote_start_id: int | None) -> None:
        connector = self.connectors[connector_id]
        connector.id_tag, connector.remote_start_id = id_tag, remote_start_id
        await self.enqueue(self.dialect.authorised(connector), durable=True).done
        await self.set_status(connector, "Charging")

    def lose_transaction(self, connector_id: int) -> None:
        """Charging ends, and the charger forgets the transaction without reporting it (as
        after a reboot): it tells only when asked (TriggerMessage, GetTransactionStatus)."""
        connector = self.connectors[connector_id]
        connector.transaction_id = connector.id_tag = connector.remote_start_id = None
        self.charging_profiles.transaction_ended(connector_id)
        connector.status = "Available"

    async def end_transaction(self, connector_id: int, reason: str = "Local") -> None:
        """Charging ends at the charger: unplugged, stopped locally, or on request."""
        connector = self.connectors[connector_id]
        if connector.transaction_id is None:
            return
        await self.set_status(connector, "Finishing")
        stopped = self.enqueue(self.dialect.stopped(connector, reason), durable=True)
        connector.transaction_id = connector.id_tag = connector.remote_start_id = None
        self.charging_profiles.transaction_ended(connector_id)
        await stopped.done
        await self.set_status(connector, "Available")

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def held(self) -> None:
        """Returns once the operator's commands may be answered (hold_answers)."""
        await self.wait_until(lambda: not self.hold_answers, timeout=3600)

    async def reboot(self, reason: str) -> None:
        """A reset: its transactions end (`reason`: 1.6 HardReset or SoftReset, 2.0.1
        ImmediateReset), then it restarts and boots again."""
        for connector_id in self.connectors:
            await self.end_transaction(connector_id, reason)
        # The time a restart takes (and for the answer to the reset to leave first).
        await asyncio.sleep(self.reboot_s)
        await self.stop()
        if not self.keeps_profiles:
            self.charging_profiles.installed.clear()
        self._boot_reason = "RemoteReset"
        self.start()

    async def reboot_when_idle(self) -> None:
        """A 2.0.1 reset OnIdle: once no transaction runs."""
        await self.wait_until(
            lambda: all(c.transaction_id is None for c in self.connectors.values()),
            timeout=24 * 3600,
        )
        await self.reboot("ImmediateReset")

    async def set_availability(self, connectors: list[Connector], status: str) -> None:
        """ChangeAvailability: at once for idle connectors, after its transaction for a busy
        one (the answer said Scheduled)."""
        for connector in connectors:

            def idle(connector: Connector = connector) -> bool:
                return connector.transaction_id is None

            await self.wait_until(idle, timeout=24 * 3600)
            await self.set_status(connector, status)

    async def stop_later(self, connector_id: int) -> None:
        await asyncio.sleep(self.stop_delay_s)
        await self.end_transaction(connector_id, "Remote")


async def run_forever(chargers: list[SimulatedCharger]) -> None:
    for charger in chargers:
        charger.start()
    await asyncio.Event().wait()
