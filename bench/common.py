"""What the benchmarks share: ports, databases, a chargegate server process, bulk provisioning
and percentiles. Benchmarks are run as `python bench/<name>.py`, so this imports as `common`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.domain.credentials import INSECURE_NO_PASSWORD
from chargegate.domain.times import utcnow
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade

RESULTS = Path(__file__).with_name("results")


def publish(name: str, text: str) -> None:
    """Prints a benchmark's section and keeps it as bench/results/<name>.md (run_all.py joins
    them into RESULTS.md)."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)


# The load generators are far faster than any charger or app: no per-charger or per-key limits.
UNLIMITED = {
    "CHARGEGATE_CHARGER_RATE_PER_S": "1000000",
    "CHARGEGATE_CHARGER_BURST": "1000000",
    "CHARGEGATE_API_RATE_PER_S": "1000000",
    "CHARGEGATE_API_BURST": "1000000",
    # Thousands of chargers connect from one address here, which is no attack.
    "CHARGEGATE_CHARGER_HANDSHAKES_PER_IP": "1000000",
    "CHARGEGATE_CHARGER_HANDSHAKE_FAILURES": "1000000",
}
SESSIONS_JS = Path(__file__).parent / "js" / "sessions.mjs"
POSTGRES_ADMIN = os.environ.get(
    "CHARGEGATE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return False
    return True


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A migrated, empty database: an SQLite file in workdir, or a fresh PostgreSQL database
    (dropped afterwards) for kind "postgresql"."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/chargegate.db"
        await upgrade(url)
        yield url
        return
    name = f"cg_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = "postgresql+asyncpg://" + POSTGRES_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
        url += f"/{name}"
        await upgrade(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def provision(
    url: str,
    prefix: str,
    chargers: int,
    connectors: int,
    operator_name: str = "bench",
    password_hashes: Sequence[str] | None = None,
) -> tuple[str, list[str]]:
    """One operator with an API key and `chargers` chargers <prefix>0.. in one transaction;
    returns the key and every port uuid, charger by charger. Charger n gets password_hashes[n]
    if given, else it is registered as passwordless (`chargers add --insecure-no-password`):
    a NULL hash would admit it by client certificate only."""
    key = await provisioning.create_api_key(Settings(database_url=url), operator_name)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            now = utcnow()
            operator = await operator_store.get_or_create_operator(session, operator_name, now)
            ports = []
            for n in range(chargers):
                charger = await charger_store.add_charger(
                    session,
                    charge_point_id=f"{prefix}{n}",
                    operator_id=operator.id,
                    password_hash=password_hashes[n] if password_hashes else INSECURE_NO_PASSWORD,
                    now=now,
                )
                for connector_id in range(1, connectors + 1):
                    port = await charger_store.ensure_port(session, charger, connector_id)
                    ports.append(port.port_uuid)
    finally:
        await engine.dispose()
    return key, ports


async def start_server(
    url: str, log: Path, extra_env: dict[str, str] | None = None, node_id: str | None = None
) -> tuple[asyncio.subprocess.Process, int]:
    """`chargegate serve` on a free port, quiet and UNLIMITED; returns once /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "CHARGEGATE_DATABASE_URL": url,
        "CHARGEGATE_LOG_LEVEL": "warning",
        **UNLIMITED,
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "chargegate", "serve", "--port", str(port)]
    command += ["--node-id", node_id] if node_id else []
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            if server.returncode is not None:
                raise RuntimeError(f"chargegate serve exited early; see {log}")
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                return server, port
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    server.kill()
    raise RuntimeError(f"chargegate serve did not answer within 60 s; see {log}")


async def stop_server(server: asyncio.subprocess.Process) -> None:
    if server.returncode is None:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 30)
        except TimeoutError:
            server.kill()
            await server.wait()


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid plus its waited-for children (cutime + cstime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


class Chargers:
    """One bench/js/sessions.mjs process: chargers that accept starts and stops."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls, url: str, prefix: str, first: int, count: int, connectors: int, *options: str
    ) -> Chargers:
        """`options`: more of sessions.mjs's arguments, such as "--period", "30"."""
        proc = await asyncio.create_subprocess_exec(
            "node", str(SESSIONS_JS), "--url", url, "--prefix", prefix, "--from", str(first),
            "--count", str(count), "--connectors", str(connectors), *options,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
        )  # fmt: skip
        return cls(proc)

    async def line(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while raw := await self.proc.stdout.readline():
                message: dict[str, Any] = json.loads(raw)
                if message["event"] == event:
                    return message
        raise RuntimeError(f"sessions.mjs exited before {event!r}")

    async def report(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"report\n")
        return await self.line("report", 60)

    async def quit(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()


async def bounded(limit: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


async def start_chargers(
    url: str,
    prefix: str,
    total: int,
    connectors: int,
    per_process: int = 2500,
    options: Sequence[str] = (),
) -> list[Chargers]:
    """Chargers <prefix>0..<prefix>total-1 in node processes of per_process each, all booted;
    `options` as for Chargers.start."""
    groups = []
    try:
        for first in range(0, total, per_process):
            count = min(per_process, total - first)
            groups.append(await Chargers.start(url, prefix, first, count, connectors, *options))
        ready = [await group.line("ready", 600) for group in groups]
    except BaseException:
        for group in groups:
            await group.quit()
        raise
    if failed := sum(r["failed"] for r in ready):
        for group in groups:
            await group.quit()
        raise RuntimeError(f"{failed} chargers could not connect")
    return groups


class NodeControl:
    """A node load generator driven over stdin; the JSON lines it prints arrive on a queue."""

    def __init__(self, command: list[str], name: str) -> None:
        self.name = name
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                self.lines.put(json.loads(line))
        self.lines.put({"event": "eof"})

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line["event"] == event:
                return line
            if line["event"] == "eof":
                raise RuntimeError(f"{self.name} exited (code {self.proc.poll()}) awaiting {event}")
        raise RuntimeError(f"{self.name}: no {event} within {timeout:.0f} s")

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()

    def quit(self) -> None:
        self.send("quit")
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
