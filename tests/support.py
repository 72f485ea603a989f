"""Test support: a real `chargegate serve` process on 127.0.0.1, operators, chargers, polling."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade_sync

# Short timings so that timeouts and expiries can be tested in seconds.
TEST_ENV = {
    "CHARGEGATE_START_TIMEOUT_S": "3",
    "CHARGEGATE_CALL_TIMEOUT_S": "3",
    "CHARGEGATE_POLL_INTERVAL_S": "1",
    "CHARGEGATE_RESEND_SETTLE_S": "2",
    "CHARGEGATE_LOG_LEVEL": "info",
    # Tests send bursts of requests with one key on purpose; test_security.py sets low limits
    # of its own to test them.
    "CHARGEGATE_API_RATE_PER_S": "100000",
    "CHARGEGATE_API_BURST": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The PostgreSQL pass of `make test` sets this to an admin URL; each server then gets a fresh
# database of its own there. Unset, every server has its own SQLite file.
POSTGRES_URL = os.environ.get("CHARGEGATE_TEST_POSTGRES_URL")
created_databases: list[str] = []


def _in_thread(work: Callable[[], Awaitable[None]]) -> None:
    """Run async set-up from sync code that may itself be inside a running event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work()).result()


def _admin_dsn() -> str:
    assert POSTGRES_URL is not None
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


def fresh_postgres_database() -> str:
    name = f"cg_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(_admin_dsn())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    _in_thread(create)
    created_databases.append(name)
    assert POSTGRES_URL is not None
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


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
            self.database_url = (
                fresh_postgres_database()
                if POSTGRES_URL
                else f"sqlite+aiosqlite:///{self.workdir / 'chargegate.db'}"
            )

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
        return Settings(database_url=self.database_url)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **TEST_ENV,
            "CHARGEGATE_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def start(self) -> None:
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
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                self.probe()
                return
            except httpx.TransportError:
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


@dataclass
class Operator:
    server: Server
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.api, headers=self.headers, timeout=10)

    async def add_charger(
        self, connectors: int = 1, password: str | None = None, cp_id: str | None = None
    ) -> Charger:
        cp_id = cp_id or f"CP-{uuid.uuid4().hex[:10]}"
        added = await provisioning.add_charger(
            self.server.settings, cp_id, self.name, connectors, password
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
    await sim.wait_until(lambda: sim.online, timeout=10)
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


async def open_session(
    client: httpx.AsyncClient, port_uuid: str, expires: float | str = 600, **extra: Any
) -> dict[str, Any]:
    """Start on a port whose charger is online and wait until the transaction is Open."""
    created = await start_session(client, port_uuid, expires, **extra)
    body = await poll_queue(client, created["queue_uuid"])
    assert body.get("state") == "Open", body
    return created


async def poll_queue(
    client: httpx.AsyncClient,
    queue_uuid: str,
    *,
    until: Callable[[dict[str, Any]], bool] = lambda body: body.get("status") != "IN PROGRESS",
    timeout: float = 15.0,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GET /queue/<id> until `until(body)` holds; returns that body."""
    return await poll_json(client, f"/queue/{queue_uuid}", until, timeout, params)


async def poll_transaction(
    client: httpx.AsyncClient,
    transaction_uuid: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
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


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)
