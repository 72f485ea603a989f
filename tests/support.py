"""Test support: a real `chargegate serve` process on 127.0.0.1, operators, chargers, polling."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import IdTokenEnumType, TransactionEventEnumType, TriggerReasonEnumType
from ocpp.v201.enums import MeasurandEnumType as Measurand201
from ocpp.v201.enums import StandardizedUnitsOfMeasureType as UnitOfMeasure201
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.domain import credentials
from chargegate.domain.times import utcnow
from chargegate.sim.charger import SimulatedCharger
from chargegate.store import operators as operator_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade, upgrade_sync

# Short timings so that timeouts and expiries can be tested in seconds.
TEST_ENV = {
    "CHARGEGATE_START_TIMEOUT_S": "3",
    "CHARGEGATE_CALL_TIMEOUT_S": "3",
    "CHARGEGATE_POLL_INTERVAL_S": "1",
    "CHARGEGATE_RESEND_SETTLE_S": "2",
    # A stop that does not take is retried within seconds (tests/test_stops.py sets the time
    # an accepted stop has to be reported lower still).
    "CHARGEGATE_STOP_CONFIRM_S": "15",
    "CHARGEGATE_STOP_RETRY_BASE_S": "1",
    "CHARGEGATE_RECONCILE_WAIT_S": "2",
    "CHARGEGATE_LOG_LEVEL": "info",
    # Tests send bursts of requests with one key on purpose; test_security.py sets low limits
    # of its own to test them.
    "CHARGEGATE_API_RATE_PER_S": "100000",
    "CHARGEGATE_API_BURST": "100000",
    # Test webhook receivers listen on 127.0.0.1, which production refuses (see
    # tests/test_webhook_abuse.py, which turns this off to test that).
    "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE": "true",
}

# Where a module starts hundreds of sessions, or its charger takes several round trips to
# report a start (the strict charger authorises first), a loaded machine has been seen to take
# longer than TEST_ENV's 3 s to report one, which fails the start.
MANY_STARTS_ENV = {"CHARGEGATE_START_TIMEOUT_S": "30"}

# A server killed and started again: the charger needs its reconnect backoff, and a loaded
# machine its start-up time, before a start held up by the outage can reach it.
RESTART_ENV = {"CHARGEGATE_START_TIMEOUT_S": "10"}


def basic(user: str, password: str) -> dict[str, str]:
    """An `Authorization: Basic` header (OCPP security profiles 1 and 2)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on TCP `port` (Linux /proc)."""
    sockets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                sockets.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == "0A" and local_port == port and fields[9] in sockets:
                    return True
    return False


def _accepts(port: int) -> bool:
    """Whether a TCP connection to 127.0.0.1:`port` is accepted (by whichever process)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The PostgreSQL pass of `make test` sets this to an admin URL; each server then gets a fresh
# database of its own there. Unset, every server has its own SQLite file.
# The transaction body: the seed's fields, then ours (invoice, energy, the state of its stop,
# the token it runs on, who started it, the charger's reason for its end).
TX_KEYS = {
    "transaction_uuid",
    "port_uuid",
    "state",
    "started",
    "ended",
    "expires",
    "invoice_id",
    "energy_wh",
    "stop",
    "id_tag",
    "origin",
    "stop_reason",
}
POSTGRES_URL = os.environ.get("CHARGEGATE_TEST_POSTGRES_URL")
created_databases: list[str] = []


def _in_thread(work: Callable[[], Awaitable[None]]) -> None:
    """Run async set-up from sync code that may itself be inside a running event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work()).result()


def _admin_dsn() -> str:
    assert POSTGRES_URL is not None
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


def fresh_postgres_database(template: str | None = None) -> str:
    """A new database of this run: empty, or a copy of the database named `template`."""
    name = f"cg_test_{uuid.uuid4().hex[:12]}"
    copied = f' TEMPLATE "{template}"' if template else ""

    async def create() -> None:
        connection = await asyncpg.connect(_admin_dsn())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"{copied}')
        finally:
            await connection.close()

    _in_thread(create)
    created_databases.append(name)
    assert POSTGRES_URL is not None
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


# Migrating a new database takes a server's tests longer than anything else they set up (on
# PostgreSQL, most of a second of DDL): each test process migrates one database the first time it
# needs one, and a server's database starts as a copy of it. tests/test_migrations.py still
# migrates empty databases, and every server still runs its own migration check at start.
@functools.cache
def _postgres_template() -> str:
    url = fresh_postgres_database()
    _in_thread(lambda: upgrade(url))
    return url.rsplit("/", 1)[1]


@functools.cache
def _sqlite_template() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="chargegate-template-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / "migrated.db"
    _in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def migrated_database(workdir: Path) -> str:
    """The URL of a migrated database for a server in `workdir`: a new one on PostgreSQL; on
    SQLite its file there, copied from the migrated template unless it exists already (another
    server of the same workdir, or a restart, keeps its data)."""
    if POSTGRES_URL:
        return fresh_postgres_database(template=_postgres_template())
    path = workdir / "chargegate.db"
    if not path.exists():
        # SQLite's backup copies a consistent database, whatever its write-ahead log holds.
        source, copy = sqlite3.connect(_sqlite_template()), sqlite3.connect(path)
        with contextlib.closing(source), contextlib.closing(copy):
            source.backup(copy)
    return f"sqlite+aiosqlite:///{path}"


def drop_postgres_databases() -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(_admin_dsn())
        try:
            for name in created_databases:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    if POSTGRES_URL and created_databases:
        _in_thread(drop)
        created_databases.clear()
        _postgres_template.cache_clear()


@dataclass
class Server:
    """A chargegate server process; kill() is a real SIGKILL, start() a real restart."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    database_url: str = ""

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = migrated_database(self.workdir)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/1.2"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def settings(self) -> Settings:
        """The settings the server process runs with, for provisioning from the test."""
        env = {**TEST_ENV, **self.extra_env, "CHARGEGATE_DATABASE_URL": self.database_url}
        prefix = "CHARGEGATE_"
        return Settings(
            **{k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **TEST_ENV,
            "CHARGEGATE_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def start(self) -> None:
        """Starts the process and returns once it answers on its port. free_port() only found
        the port free: another worker's server may take it first (a restart after kill() is
        the widest gap), and its answer must not pass for this one's. So the port must be
        this process's own listening socket; if it lost the race, it starts on another port."""
        for _ in range(5):
            if self._started():
                return
            self.port = free_port()
        raise RuntimeError(f"server found no free port:\n{self.log()}")

    def _started(self) -> bool:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chargegate",
                "serve",
                "--port",
                str(self.port),
                *self.extra_args,
            ],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: a loaded machine (the whole suite on two cores) may start it slowly.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log().lower():
                    return False
                raise RuntimeError(f"server exited early:\n{self.log()}")
            # Until something listens on the port, a refused connect is all a check costs: an
            # HTTP probe builds a client (and its TLS context) each time, which on a loaded
            # machine took as much CPU as the server it was waiting for.
            if _accepts(self.port):
                try:
                    self.probe()
                    if _listening(self.process.pid, self.port):
                        return True
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not come up:\n{self.log()}")

    @contextmanager
    def running(self) -> Iterator[Server]:
        """Migrated and started; stopped afterwards."""
        upgrade_sync(self.database_url)
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def probe(self) -> None:
        """Raises httpx.TransportError until the server answers HTTP."""
        httpx.get(f"{self.base_url}/healthz", timeout=0.5)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def operator(self, name: str | None = None) -> Operator:
        name = name or f"op-{uuid.uuid4().hex[:8]}"
        key = await provisioning.create_api_key(self.settings, name)
        return Operator(server=self, name=name, key=key)


class TlsServer(Server):
    """A server that answers over TLS only, so it is probed over TLS; `trust` verifies it."""

    trust: ssl.SSLContext

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ocpp"

    def trusted(self) -> ssl.SSLContext:
        """What the readiness probe verifies the server with (and presents to it)."""
        return self.trust

    def probe(self) -> None:
        httpx.get(f"{self.base_url}/healthz", timeout=0.5, verify=self.trusted())


@dataclass
class Operator:
    server: Server
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.api, headers=self.headers, timeout=30)

    async def add_scrypt_key(self) -> str:
        """Another key of this operator, stored as keys were from migration 0003 until they
        were stored as SHA-256 again (scrypt); returns the key."""
        made = credentials.new_api_key()
        engine = create_engine(self.server.database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                operator = await operator_store.get_or_create_operator(session, self.name, utcnow())
                key_hash = credentials.hash_password(made.key)
                await operator_store.add_api_key(session, operator, made.lookup, key_hash, utcnow())
        finally:
            await engine.dispose()
        return made.key

    async def add_charger(
        self, connectors: int = 1, password: str | None = None, cp_id: str | None = None
    ) -> Charger:
        """Without a password the charger is registered as passwordless on purpose (the opt-out
        production must ask for by name), so tests can connect chargers without credentials."""
        cp_id = cp_id or f"CP-{uuid.uuid4().hex[:10]}"
        added = await provisioning.add_charger(
            self.server.settings,
            cp_id,
            self.name,
            connectors,
            password,
            insecure_no_password=password is None,
        )
        return Charger(cp_id, [p["port_uuid"] for p in added["ports"]])


@dataclass
class Charger:
    charge_point_id: str
    port_uuids: list[str]

    @property
    def port(self) -> str:
        return self.port_uuids[0]


class Simulators(list[SimulatedCharger]):
    """The simulated chargers of one test, all speaking one OCPP version by default."""

    def __init__(self, ocpp_version: str) -> None:
        super().__init__()
        self.ocpp_version = ocpp_version


def requested_port(start_request: dict[str, Any]) -> int:
    """The connector (1.6) or EVSE (2.0.1) a start request names."""
    return int(start_request.get("connectorId") or start_request["evseId"])


async def online(
    simulators: Simulators, server: Server, charger: Charger, **options: Any
) -> SimulatedCharger:
    """Start a simulated charger for `charger` and wait until it has booted."""
    options.setdefault("ocpp_version", simulators.ocpp_version)
    sim = SimulatedCharger(
        url=server.ws_url,
        charge_point_id=charger.charge_point_id,
        connectors=len(charger.port_uuids),
        **options,
    )
    simulators.append(sim)
    sim.start()
    await sim.wait_until(lambda: sim.online, timeout=30)
    return sim


def iso(delta_s: float, fmt: str = "%Y-%m-%dT%H:%M:%S+0000") -> str:
    """A UTC timestamp `delta_s` seconds from now, as an API client would send it."""
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).strftime(fmt)


def api_time(value: str) -> datetime:
    """Read a timestamp as the API prints it (`YYYY-MM-DDTHH:MM:SS`, UTC)."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def assert_error(response: httpx.Response, status: int) -> str:
    """The seed's error shape: exactly {"message": "<non-empty str>"}; returns the message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"message"}, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return str(body["message"])


async def start_session(
    client: httpx.AsyncClient, port_uuid: str, expires: float | str = 600, **extra: Any
) -> dict[str, Any]:
    """POST /transactions (expires: a timestamp, or seconds from now); returns the 201 body."""
    when = expires if isinstance(expires, str) else iso(expires)
    response = await client.post(
        "/transactions", json={"port_uuid": port_uuid, "expires": when, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def cable_plugged(transaction_id: str, timestamp: str) -> dict[str, Any]:
    """The 2.0.1 TransactionEvent of a station that begins a transaction as the cable goes in."""
    return {
        "eventType": "Started",
        "timestamp": timestamp,
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": transaction_id},
        "evse": {"id": 1, "connectorId": 1},
    }


def start_report(
    subprotocol: str, connector: int, id_tag: str, timestamp: str, meter_wh: int = 0
) -> tuple[str, dict[str, Any]]:
    """A charger's report of a transaction it began with `id_tag`: a 1.6 StartTransaction, or a
    2.0.1 TransactionEvent Started (with a transaction id of its own) on EVSE `connector`."""
    if subprotocol == "ocpp1.6":
        payload = {
            "connectorId": connector,
            "idTag": id_tag,
            "meterStart": meter_wh,
            "timestamp": timestamp,
        }
        return Action16.start_transaction, payload
    energy = {
        "value": meter_wh,
        "measurand": Measurand201.energy_active_import_register,
        "unitOfMeasure": {"unit": UnitOfMeasure201.wh},
    }
    return Action201.transaction_event, {
        "eventType": TransactionEventEnumType.started,
        "timestamp": timestamp,
        "triggerReason": TriggerReasonEnumType.authorized,
        "seqNo": 0,
        "transactionInfo": {"transactionId": f"T-{uuid.uuid4().hex[:8]}"},
        "idToken": {"idToken": id_tag, "type": IdTokenEnumType.iso14443},
        "evse": {"id": connector, "connectorId": 1},
        "meterValue": [{"timestamp": timestamp, "sampledValue": [energy]}],
    }


def id_tag_status(answer: dict[str, Any]) -> str:
    """What the server said of the card in its answer to a start (either version)."""
    info = answer.get("idTagInfo") or answer["idTokenInfo"]
    return str(info["status"])


async def open_session(
    client: httpx.AsyncClient,
    port_uuid: str,
    expires: float | str = 600,
    *,
    reached: Callable[[], Awaitable[None]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Start on a port whose charger is online and wait until the transaction is Open.
    `reached`: waits for the charger's side of it, so that the queue is read once it is done
    rather than polled meanwhile (where a test starts hundreds of sessions)."""
    created = await start_session(client, port_uuid, expires, **extra)
    await hint(reached)
    body = await poll_queue(client, created["queue_uuid"])
    assert body.get("state") == "Open", body
    return created


async def expire_in(client: httpx.AsyncClient, transaction_uuid: str, seconds: float) -> str:
    """PATCH an open transaction to expire `seconds` from now; returns the expiry sent. A test
    of a short session opens it with a long expiry first and shortens it so: on a loaded
    machine the start may take longer than a short expiry, which then fails the start."""
    expires = iso(seconds)
    patched = await client.patch(f"/transactions/{transaction_uuid}", json={"expires": expires})
    assert patched.status_code == 204, patched.text
    return expires


async def stop_session(
    client: httpx.AsyncClient,
    transaction_uuid: str,
    reached: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """PATCH the transaction closed and wait until its stop is done; returns that body.
    `reached`: as for open_session."""
    stop = await client.patch(f"/transactions/{transaction_uuid}", json={"state": "closed"})
    assert stop.status_code == 202, stop.text
    await hint(reached)
    return await poll_queue(client, stop.json()["id"], timeout=60)


async def hint(reached: Callable[[], Awaitable[None]] | None) -> None:
    """Wait for `reached` before polling a queue item, if it comes within 10 s: where it does
    not (the item failed, the charger did something else), the queue says what happened."""
    if reached is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reached(), 10)


async def poll_queue(
    client: httpx.AsyncClient,
    queue_uuid: str,
    *,
    until: Callable[[dict[str, Any]], bool] = lambda body: body.get("status") != "IN PROGRESS",
    timeout: float = 30.0,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GET /queue/<id> until `until(body)` holds; returns that body."""
    return await poll_json(client, f"/queue/{queue_uuid}", until, timeout, params)


async def poll_transaction(
    client: httpx.AsyncClient,
    transaction_uuid: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    return await poll_json(client, f"/transactions/{transaction_uuid}", until, timeout, None)


async def poll_json(
    client: httpx.AsyncClient,
    path: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float,
    params: dict[str, Any] | None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if until(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting on {path}; last body: {body}")
        await asyncio.sleep(0.1)


async def metric(server: Server, series: str, verify: ssl.SSLContext | bool = True) -> float:
    """One series of the server's /metrics, such as `name{label="value"}`; 0 if absent.
    `verify`: what to trust when the server serves TLS."""
    async with httpx.AsyncClient(timeout=30, verify=verify) as http:
        response = await http.get(f"{server.base_url}/metrics")
    assert response.status_code == 200, response.text
    found = re.search(rf"^{re.escape(series)} (\S+)$", response.text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def holding_the_writer(
    server: Server, key: str, *, row: str = "chargers WHERE charge_point_id = $1"
) -> AsyncIterator[None]:
    """A transaction of the test's own that keeps the server from writing a row (by default
    the charger's whose id is `key`; $1 is `key`): on SQLite the database's write lock, on
    PostgreSQL the row's lock."""
    url = server.database_url
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            locked = await connection.fetch(f"SELECT 1 FROM {row} FOR UPDATE", key)
            assert locked
            yield
    finally:
        await connection.close()


class RawCharger:
    """A hand-driven charger socket: every frame is ours to choose, retries included."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.requests: list[list[Any]] = []

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        frame = await self.exchange(action, payload)
        assert frame[0] == 3, frame
        result: dict[str, Any] = frame[2]
        return result

    async def exchange(self, action: str, payload: dict[str, Any] | str) -> list[Any]:
        """Sends a CALL; returns the server's CALLRESULT or CALLERROR frame. A payload given as
        JSON text is sent as it is (tokens such as NaN that json.dumps would not write)."""
        unique_id = str(uuid.uuid4())  # a retry is a new message id
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await self.ws.send(f"[2,{json.dumps(unique_id)},{json.dumps(action)},{text}]")
        while True:
            async with asyncio.timeout(10):
                frame: list[Any] = json.loads(await self.ws.recv())
            if frame[0] == 2:
                await self.answer(frame)
            elif frame[1] == unique_id:
                return frame

    async def answer(self, frame: list[Any]) -> None:
        """Accept starts and stops; refuse the server's other questions."""
        self.requests.append(frame)
        if frame[2] in (
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "RequestStartTransaction",
            "RequestStopTransaction",
        ):
            await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
        else:
            await self.ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))

    async def next_request(self, action: str) -> dict[str, Any]:
        while True:
            async with asyncio.timeout(10):
                frame = json.loads(await self.ws.recv())
            assert frame[0] == 2, frame
            await self.answer(frame)
            if frame[2] == action:
                payload: dict[str, Any] = frame[3]
                return payload


BOOTS = {
    "ocpp1.6": {"chargePointVendor": "v", "chargePointModel": "m"},
    "ocpp2.0.1": {"reason": "PowerUp", "chargingStation": {"vendorName": "v", "model": "m"}},
}


@asynccontextmanager
async def raw_charger(
    op: Operator,
    subprotocol: str,
    make: Callable[[ClientConnection], RawCharger] = RawCharger,
    connectors: int = 1,
) -> AsyncIterator[tuple[RawCharger, Charger]]:
    """A new charger of `op` with `connectors` registered ports, connected by hand and booted."""
    charger = await op.add_charger(connectors)
    url = f"{op.server.ws_url}/{charger.charge_point_id}"
    async with connect(url, subprotocols=[Subprotocol(subprotocol)]) as ws:
        raw = make(ws)
        await raw.call("BootNotification", BOOTS[subprotocol])
        yield raw, charger


async def transactions(client: httpx.AsyncClient, port_uuid: str) -> list[dict[str, Any]]:
    """Every transaction of a port, newest first."""
    response = await client.get("/transactions", params={"port_uuid": port_uuid, "limit": 0})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def accepted_cards(op: Operator, *id_tags: str) -> None:
    """Cards in `op`'s registry as Accepted: a start a charger reports with one is a session the
    API shows (a refused one is only the charger's record)."""
    async with op.client() as client:
        for id_tag in id_tags:
            added = await client.post("/tokens", json={"id_tag": id_tag, "status": "Accepted"})
            assert added.status_code == 201, added.text
