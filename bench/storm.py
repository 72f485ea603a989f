"""Reconnect storm (issue 16 points 1 and 6): chargers of both OCPP versions that all reconnect at
once after a restart, then a realistic load, on SQLite (one process), PostgreSQL (`serve
--workers N`) and two nodes on PostgreSQL + Redis holding twice one node's chargers.

The chargers are bench/js/storm.mjs processes (npm ocpp-rpc, independent of chargegate's code),
half OCPP 1.6 and half 2.0.1, each logging in with its own password in the form chargegate
generates (cgp-..., stored as SHA-256 as `chargers add` stores them); with --chosen-passwords,
passwords a person chose instead (scrypt, hashed afresh each run: minutes for 20,000), to compare.
No process holds more than --per-process chargers (the file descriptor limit per process is
20,000 here).

Per configuration: the chargers connect all at once to a fresh server (first boot), the server
is restarted (SIGTERM, then started again) and all reconnect at once (the storm: seconds from
the reconnect to the last BootNotification answered, failures, refused handshakes = any non-101
answer, errors). Then the realistic load for --window seconds: Heartbeat every --period seconds,
MeterValues every --period per connector, and each connector starting or stopping a session
with probability --session-rate per --period (StatusNotification on each change); p50/p99 per
action, errors, disconnects, and the server's CPU (all its processes) and RSS. SQLite steps up
through --sqlite-steps and reports the largest count meeting the targets (its ceiling). The two
node figure is followed by the cross-node start latency (bench/cross_node_latency.py).

Figures are printed as Markdown and written to bench/results/storm.md; nothing is asserted.

    .venv/bin/python bench/storm.py [--quick] [--chargers 20000] [--sqlite-steps 5000,10000,19000]
        [--configs sqlite,pg1,pg2,two] [--workers 2] [--window 120]
        [--no-passwords | --chosen-passwords]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import RESULTS, UNLIMITED, NodeControl, database, free_port, postgres_available

from chargegate.domain.credentials import (
    GENERATED_PASSWORD_PREFIX,
    INSECURE_NO_PASSWORD,
    hash_charger_password,
    is_generated_password,
)
from chargegate.domain.times import utcnow
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Charger

BENCH = Path(__file__).parent
STORM_JS = BENCH / "js" / "storm.mjs"
# Charger n logs in with <secret>n (bench/js/storm.mjs). Not random as generated ones are: the
# form alone decides how the server checks them.
GENERATED_SECRET = f"{GENERATED_PASSWORD_PREFIX}storm-bench-"
CHOSEN_SECRET = "storm-bench-secret-"
PREFIX = "STORM-"
BOOT_LIMIT_S = 60.0
P99_LIMIT_MS = 100.0
REDIS = "redis://127.0.0.1:6379/0"


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def secret(args: argparse.Namespace) -> str | None:
    if args.no_passwords:
        return None
    return CHOSEN_SECRET if args.chosen_passwords else GENERATED_SECRET


def password_hashes(count: int, prefix: str) -> list[str]:
    """What `chargers add` stores for <prefix>n, n < count."""
    passwords = [f"{prefix}{n}" for n in range(count)]
    if is_generated_password(prefix):
        return [hash_charger_password(p) for p in passwords]
    say(f"hashing {count} chosen charger passwords (scrypt)")
    with ProcessPoolExecutor() as pool:
        return list(pool.map(hash_charger_password, passwords, chunksize=32))


async def provision(url: str, count: int, connectors: int, hashes: list[str] | None) -> None:
    """Chargers <PREFIX>0.. and their ports in one transaction and a few statements (common's
    provision writes one row at a time, minutes for 20,000 chargers)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            now = utcnow()
            operator = await operator_store.get_or_create_operator(session, "storm", now)
            chargers = [
                Charger(
                    charge_point_id=f"{PREFIX}{n}",
                    operator_id=operator.id,
                    password_hash=hashes[n] if hashes else INSECURE_NO_PASSWORD,
                    connection_epoch=0,
                    created_at=now,
                )
                for n in range(count)
            ]
            session.add_all(chargers)
            await session.flush()
            wanted = [(c, k) for c in chargers for k in range(1, connectors + 1)]
            await charger_store.ensure_ports(session, wanted)
    finally:
        await engine.dispose()


def tree(pid: int) -> list[int]:
    """pid and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{member}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


def tree_rss_kb(pid: int) -> int:
    total = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def percentile(hist: dict[int, int], q: float) -> float | None:
    """q-quantile in ms of a merged histogram (key i ~ 1.01**i microseconds)."""
    total = sum(hist.values())
    if not total:
        return None
    rank, seen = min(total - 1, math.floor(q * total)), 0
    for key in sorted(hist):
        seen += hist[key]
        if seen > rank:
            return float(1.01**key / 1000)
    return None


def merge(into: dict[Any, int], more: dict[Any, int], key: type = str) -> None:
    for k, n in more.items():
        into[key(k)] = into.get(key(k), 0) + n


class Node:
    """One `chargegate serve` (with --workers N if N > 1), its output in a log file."""

    def __init__(self, url: str, workers: int, node_id: str, log: Path, broker: bool) -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", "chargegate", "serve", "--port", str(self.port)]
        self.command += ["--node-id", node_id]
        self.command += ["--workers", str(workers)] if workers > 1 else []
        self.env = {**os.environ, **UNLIMITED, "CHARGEGATE_DATABASE_URL": url}
        self.env["CHARGEGATE_LOG_LEVEL"] = "warning"
        self.env.pop("CHARGEGATE_BROKER_URL", None)
        if broker:
            self.env["CHARGEGATE_BROKER_URL"] = REDIS
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chargegate serve exited early; see {self.log}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            time.sleep(0.1)
        raise RuntimeError(f"chargegate serve did not answer within 120 s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(90)
        except subprocess.TimeoutExpired:
            for pid in tree(self.proc.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)


class Load(NodeControl):
    """One storm.mjs process."""

    def __init__(self, url: str, first: int, count: int, options: list[str]) -> None:
        command = ["node", str(STORM_JS), "--url", url, "--prefix", PREFIX]
        command += ["--from", str(first), "--count", str(count), *options]
        super().__init__(command, "storm.mjs")
        self.expect("started", 60)


@dataclass
class Storm:
    chargers: int = 0
    seconds: float = 0.0
    booted: int = 0
    failed: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    hist: dict[int, int] = field(default_factory=dict)
    cpu_s: float = 0.0

    def add(self, line: dict[str, Any]) -> None:
        self.chargers += line["chargers"]
        self.seconds = max(self.seconds, line["seconds"])
        self.booted += line["booted"]
        self.failed += line["failed"]
        merge(self.refused, line["refused"])
        merge(self.errors, line["errors"])
        merge(self.hist, line["hist"], int)

    @property
    def ok(self) -> bool:
        clean = not (self.failed or self.refused or self.errors)
        return clean and self.seconds <= BOOT_LIMIT_S


@dataclass
class Window:
    seconds: float = 0.0
    disconnects: int = 0
    inbound: int = 0
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    rss_kb: int = 0

    def add(self, line: dict[str, Any]) -> None:
        self.seconds = max(self.seconds, line["seconds"])
        self.disconnects += line["disconnects"]
        self.inbound += line["inboundCalls"]
        merge(self.errors, line["errors"])
        for name, entry in line["actions"].items():
            mine = self.actions.setdefault(name, {"count": 0, "errors": 0, "hist": {}})
            mine["count"] += entry["count"]
            mine["errors"] += entry["errors"]
            merge(mine["hist"], entry["hist"], int)

    def all_hist(self) -> dict[int, int]:
        total: dict[int, int] = {}
        for entry in self.actions.values():
            merge(total, entry["hist"], int)
        return total

    @property
    def messages(self) -> int:
        return sum(entry["count"] for entry in self.actions.values())

    @property
    def ok(self) -> bool:
        p99 = percentile(self.all_hist(), 0.99)
        clean = not (self.errors or self.disconnects)
        return clean and p99 is not None and p99 < P99_LIMIT_MS


@dataclass
class Outcome:
    label: str
    chargers: int
    first: Storm
    storm: Storm
    window: Window
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.storm.ok and self.window.ok


def run_config(
    args: argparse.Namespace,
    label: str,
    url: str,
    chargers: int,
    nodes: int,
    workers: int,
    log: Path,
) -> Outcome:
    servers = [Node(url, workers, f"storm-{n}", log, broker=nodes > 1) for n in range(nodes)]
    options = ["--connectors", str(args.connectors), "--period", str(args.period)]
    options += ["--session-rate", str(args.session_rate), "--max-runtime", str(args.max_runtime)]
    prefix = secret(args)
    options += [] if prefix is None else ["--password", prefix]
    loads: list[Load] = []
    try:
        for server in servers:
            server.start()
        per_node = math.ceil(chargers / nodes)
        for first in range(0, chargers, args.per_process):
            count = min(args.per_process, chargers - first)
            loads.append(Load(servers[first // per_node].url, first, count, options))

        def storm() -> Storm:
            before = sum(tree_cpu_s(s.proc.pid) for s in servers if s.proc)
            for load in loads:
                load.send("connect")
            result = Storm()
            for load in loads:
                result.add(load.expect("booted", args.boot_timeout))
            result.cpu_s = sum(tree_cpu_s(s.proc.pid) for s in servers if s.proc) - before
            return result

        say(f"{label}: {chargers} chargers connect to a fresh server")
        first = storm()
        say(f"{label}: first boot {first.seconds:.1f} s, {first.booted} booted; restarting")
        for server in servers:
            server.stop()
        for load in loads:
            load.send("drop")
            load.expect("dropped", 60)
        for server in servers:
            server.start()
        again = storm()
        say(f"{label}: storm {again.seconds:.1f} s, {again.booted} booted, {again.failed} failed")
        for load in loads:
            load.send("load")
            load.expect("loading", 60)
        time.sleep(min(args.period, args.window) / 2)  # every timer has started at least once
        window = Window()
        before = sum(tree_cpu_s(s.proc.pid) for s in servers if s.proc)
        for load in loads:
            load.send(f"measure {args.window}")
        for load in loads:
            window.add(load.expect("summary", args.window + 120))
        window.cpu_s = sum(tree_cpu_s(s.proc.pid) for s in servers if s.proc) - before
        window.rss_kb = sum(tree_rss_kb(s.proc.pid) for s in servers if s.proc)
        return Outcome(label, chargers, first, again, window)
    finally:
        for load in loads:
            load.quit()
        for server in servers:
            server.stop()


def measure_config(
    args: argparse.Namespace, label: str, kind: str, chargers: int, nodes: int, workers: int
) -> Outcome:
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-storm-"))
    log = workdir / "server.log"
    prefix = secret(args)
    hashes = None if prefix is None else password_hashes(chargers, prefix)

    async def setup_and_run() -> Outcome:
        async with database(kind, workdir) as url:
            say(f"{label}: provisioning {chargers} chargers")
            await provision(url, chargers, args.connectors, hashes)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, run_config, args, label, url, chargers, nodes, workers, log
            )

    try:
        return asyncio.run(setup_and_run())
    except Exception as error:  # a benchmark prints what broke and goes on
        say(f"{label}: failed: {error}")
        return Outcome(label, chargers, Storm(), Storm(), Window(), note=f"failed: {error}")


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def counts(found: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(found.items())) or "0"


def storm_row(outcome: Outcome) -> str:
    s, f, w = outcome.storm, outcome.first, outcome.window
    if outcome.note:
        return f"| {outcome.label} | {outcome.chargers} | {outcome.note} |" + " |" * 11
    per_charger = f"{s.cpu_s * 1000 / s.booted:.1f}" if s.booted else "-"
    kb = f"{w.rss_kb / outcome.chargers:.0f}" if outcome.chargers else "-"
    p = w.all_hist()
    per_msg = f"{w.cpu_s * 1000 / w.messages:.2f}" if w.messages else "-"
    return (
        f"| {outcome.label} | {outcome.chargers} | {f.seconds:.1f} | {s.seconds:.1f} "
        f"| {s.booted} | {s.failed} | {counts(s.refused)} | {counts(s.errors)} | {per_charger} "
        f"| {fmt_ms(percentile(p, 0.5))} / {fmt_ms(percentile(p, 0.99))} "
        f"| {counts(w.errors)} | {w.disconnects} | {w.cpu_s / w.seconds if w.seconds else 0:.2f}"
        f" ({per_msg}) | {w.rss_kb / 1024:.0f} ({kb}) | {'yes' if outcome.ok else 'no'} |"
    )


def action_rows(outcome: Outcome) -> list[str]:
    rows = []
    for name, entry in sorted(outcome.window.actions.items()):
        hist = {int(k): v for k, v in entry["hist"].items()}
        rows.append(
            f"| {outcome.label} | {name} | {entry['count']} | {entry['errors']} "
            f"| {fmt_ms(percentile(hist, 0.5))} | {fmt_ms(percentile(hist, 0.99))} |"
        )
    return rows


def cross_node(args: argparse.Namespace) -> str:
    command = [sys.executable, str(BENCH / "cross_node_latency.py")]
    command += ["--quick"] if args.quick else []
    try:
        subprocess.run(command, timeout=300, check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError) as error:
        return f"Cross-node start latency: not measured ({error}).\n"
    return (RESULTS / "cross_node.md").read_text()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, a short window")
    parser.add_argument("--chargers", type=int, default=20000, help="per PostgreSQL node")
    parser.add_argument("--sqlite-steps", default="5000,10000,19000")
    parser.add_argument("--configs", default="sqlite,pg1,pg2,two")
    parser.add_argument("--workers", type=int, default=2, help="for pg2 and each of two nodes")
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--period", type=float, default=60.0)
    parser.add_argument("--session-rate", type=float, default=0.05)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--per-process", type=int, default=5000)
    parser.add_argument("--boot-timeout", type=float, default=600.0)
    parser.add_argument("--max-runtime", type=float, default=3600.0)
    passwords = parser.add_mutually_exclusive_group()
    passwords.add_argument("--no-passwords", action="store_true", help="passwordless chargers")
    passwords.add_argument(
        "--chosen-passwords",
        action="store_true",
        help="passwords a person chose (scrypt) instead of generated ones (SHA-256)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "storm.md")
    args = parser.parse_args()
    if args.quick:
        args.chargers, args.sqlite_steps = min(args.chargers, 400), "200,400"
        args.window, args.period, args.per_process = 20.0, 10.0, 200
    return args


def main() -> None:
    args = parse()
    began = time.monotonic()
    configs = args.configs.split(",")
    has_pg = postgres_available()
    outcomes: list[Outcome] = []
    ceiling = None
    if "sqlite" in configs:
        for step in [int(s) for s in args.sqlite_steps.split(",")]:
            outcome = measure_config(args, "SQLite, 1 process", "sqlite", step, 1, 1)
            outcomes.append(outcome)
            if not outcome.ok:
                break
            ceiling = step
    pg = {
        "pg1": ("PostgreSQL, 1 process", args.chargers, 1, 1),
        "pg2": (f"PostgreSQL, --workers {args.workers}", args.chargers, 1, args.workers),
        "two": (
            f"2 nodes x --workers {args.workers}, PostgreSQL + Redis",
            2 * args.chargers,
            2,
            args.workers,
        ),
    }
    for name, (label, chargers, nodes, workers) in pg.items():
        if name in configs and has_pg:
            outcomes.append(measure_config(args, label, "postgresql", chargers, nodes, workers))
    passwords = {
        None: "no passwords",
        CHOSEN_SECRET: "each with its own chosen password (scrypt)",
        GENERATED_SECRET: "each with its own generated password (SHA-256)",
    }[secret(args)]
    text = [
        "### Reconnect storm (issue 16, points 1 and 6)",
        "",
        f"Chargers half OCPP 1.6, half 2.0.1, {passwords}, {args.connectors} connectors each, "
        f"from bench/js/storm.mjs processes of at most {args.per_process}. Storm: the server is "
        "restarted and every charger reconnects at once; seconds to the last BootNotification "
        f"answered (target {BOOT_LIMIT_S:.0f} s, zero failures, errors and refused handshakes); "
        "first boot is the same onto a fresh server. Load: Heartbeat and MeterValues per "
        f"connector every {args.period:.0f} s, {args.session_rate:.0%} of connectors starting "
        f"or stopping a session per period, measured over {args.window:.0f} s (target p99 < "
        f"{P99_LIMIT_MS:.0f} ms over all actions, no errors or disconnects). Server CPU: all "
        "its processes, in cores during the window (and ms per message); per charger: CPU ms "
        "per charger during the storm. RSS: all server processes.",
        "",
        "| configuration | chargers | first boot s | storm s | booted | failed | refused "
        "| storm errors | storm CPU ms/charger | load p50 / p99 ms | load errors | disconnects "
        "| server cores (ms/msg) | RSS MB (KB/charger) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[storm_row(o) for o in outcomes],
        "",
        f"SQLite ceiling (largest step meeting the targets, steps {args.sqlite_steps}): "
        f"{ceiling if ceiling is not None else 'none of the steps'}."
        if "sqlite" in configs
        else "",
        "" if has_pg else "PostgreSQL not available at 127.0.0.1:5432: its rows are missing.",
        "",
        "| configuration | action | count | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        *[row for o in outcomes for row in action_rows(o)],
        "",
    ]
    if "two" in configs and has_pg:
        text.append(cross_node(args))
    text.append(f"Total run time {time.monotonic() - began:.0f} s.\n")
    report = "\n".join(text)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
