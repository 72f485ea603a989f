"""Connected chargers one `chargegate serve` holds, and OCPP message throughput per server
CPU-second against a "roll your own" baseline (bench/baseline_csms.py). The load comes from
bench/js/load.mjs (npm ocpp-rpc, independent of chargegate's code), several node processes.

1. Hold: steps of connected OCPP 1.6 chargers (default 1000, 2500, 5000, 10000, 20000), added to
   those already connected. Each charger boots once, then sends Heartbeat, StatusNotification and
   MeterValues once per --period seconds each (jittered). Per step: reply latency over a
   --window, errors, the server's RSS and KB per charger. Stepping stops when a step fails
   (chargers that cannot connect, errors, disconnects) or the time budget is spent.
2. Throughput: --concurrency chargers send one action back to back for --seconds; round trips per
   second and per server CPU-second (utime + stime of the server process and its children, from
   /proc), for chargegate and the baseline.

Figures are printed as Markdown and written to bench/results/chargers.md; nothing is asserted.
Needs node and `cd bench/js && npm install --no-save --no-package-lock --no-audit --no-fund`.

    .venv/bin/python bench/chargers.py [--quick] [--steps 1000,2500,5000,10000,20000] [--period 10]
        [--window 20] [--concurrency 50] [--seconds 15] [--budget 600] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import UNLIMITED, NodeControl, cpu_seconds, rss_kb

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
LOAD = BENCH / "js" / "load.mjs"
BASELINE = BENCH / "baseline_csms.py"
CHARGERS_PER_PROCESS = 10000
ACTIONS = ["Heartbeat", "StatusNotification", "MeterValues"]
P99_LIMIT_MS = 100.0


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE for this process and, by inheritance, its children."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1 << 20
    with contextlib.suppress(OSError):
        want = min(want, int(Path("/proc/sys/fs/nr_open").read_text()))
    for limit in ((want, want), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(hist: dict[int, int], q: float) -> float | None:
    """q-quantile in ms of a merged load.mjs histogram (key i ~ 1.01**i microseconds)."""
    total = sum(hist.values())
    if not total:
        return None
    rank = min(total - 1, math.floor(q * total))
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen > rank:
            return float(1.01**key / 1000)
    return None


class Server:
    """A CSMS subprocess (chargegate or the baseline) whose stderr goes to a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=self._log_file
        )

    def wait_listening(self, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout}s")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log_file.close()


class Load(NodeControl):
    """One node load.mjs process in --control mode."""

    def __init__(self, url: str, mode: str, prefix: str, start: int, count: int, extra: list[str]):
        command = ["node", str(LOAD), "--control", "--hist", "--url", url, "--mode", mode]
        command += ["--prefix", prefix, "--from", str(start), "--count", str(count), *extra]
        super().__init__(command, "load.mjs")
        self.count = count


@dataclass
class Window:
    count: int = 0
    errors: int = 0
    disconnects: int = 0
    seconds: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)

    def add(self, summary: dict[str, Any]) -> None:
        self.count += summary["count"]
        self.errors += summary["errors"]
        self.disconnects += summary["disconnects"]
        self.seconds = max(self.seconds, summary["seconds"])
        for key, n in summary.get("hist", {}).items():
            self.hist[int(key)] = self.hist.get(int(key), 0) + n
        for kind, n in summary["errorKinds"].items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + n

    def p(self, q: float) -> float | None:
        return percentile(self.hist, q)


def measure(loads: list[Load], seconds: float) -> Window:
    for load in loads:
        load.send(f"measure {seconds}")
    window = Window()
    for load in loads:
        window.add(load.expect("summary", seconds + 60))
    return window


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def chargegate_env(workdir: Path, name: str) -> dict[str, str]:
    return {
        **os.environ,
        "CHARGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/{name}.db",
        **UNLIMITED,
        "CHARGEGATE_LOG_LEVEL": "warning",
    }


def start_chargegate(workdir: Path, name: str) -> tuple[Server, int]:
    port = free_port()
    chargegate = shutil.which("chargegate", path=str(Path(sys.executable).parent)) or "chargegate"
    command = [
        chargegate,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--auto-register",
        "--auto-register-insecure",
    ]
    server = Server("chargegate", command, chargegate_env(workdir, name), workdir / f"{name}.log")
    server.wait_listening(port)
    # Let startup work (migrations, pools) finish before anything is measured.
    with contextlib.suppress(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).close()
    time.sleep(1.0)
    return server, port


def log_summary(path: Path) -> str:
    """How many log lines the server wrote, and its most frequent messages."""
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                key = f"{entry.get('level', '?')}: {str(entry.get('msg', ''))[:80]}"
                exc = str(entry.get("exc", "")).strip().splitlines()
                key += f" ({exc[-1][:120]})" if exc else ""
            except (json.JSONDecodeError, AttributeError):
                # A (rich) traceback: keep only its closing "SomeError: message" lines.
                found = re.search(r"\b(\w+(?:Error|Exception|Timeout)\b:?.*)", line.strip("│ "))
                if not found or "Traceback" in line:
                    continue
                key = found.group(1).strip()[:100]
            key = key.replace("`", "'").replace("\n", " ").strip()
            counts[key] = counts.get(key, 0) + 1
    top = sorted(counts.items(), key=lambda item: -item[1])[:4]
    listed = "; ".join(f"{n} x `{key}`" for key, n in top)
    return f"log: {listed}" if top else "no log lines"


def hold(args: argparse.Namespace, workdir: Path, began: float) -> tuple[list[str], list[str]]:
    server, port = start_chargegate(workdir, "hold")
    url = f"ws://127.0.0.1:{port}/ocpp"
    idle_rss = rss_kb(server.proc.pid)
    rows: list[str] = []
    notes: list[str] = [f"Idle server RSS before any charger: {idle_rss / 1024:.0f} MB."]
    loads: list[Load] = []
    held = 0
    within = 0  # the most chargers with p99 under P99_LIMIT_MS
    extra = ["--period", str(args.period), "--connect-concurrency", "200"]
    try:
        for step in args.steps:
            if time.monotonic() - began > args.budget:
                notes.append(f"Stopped before {step} chargers: time budget spent.")
                break
            step_began = time.monotonic()
            new: list[Load] = []
            while held < step:
                count = min(CHARGERS_PER_PROCESS, step - held)
                new.append(Load(url, "hold", "HOLD-", held, count, extra))
                held += count
            loads += new
            try:
                ready = [load.expect("ready", args.connect_timeout) for load in new]
            except RuntimeError as exc:
                rows.append(
                    f"| {step} | not all connected and booted | > {args.connect_timeout:.0f} s"
                    " | - | - | - | - | - | - | - | - | - |"
                )
                print(rows[-1], flush=True)
                notes.append(f"The {step}-charger step failed: {exc}.")
                break
            connect_s = time.monotonic() - step_began
            failed = sum(r["connectFailed"] for r in ready)
            boot_p99 = max((r["bootP99Ms"] or 0.0) for r in ready)
            # Steady state: every newcomer has sent each message once (a port's first status is a
            # write; repeats are not) before the window opens.
            time.sleep(args.period * 1.3)
            cpu0, wall0 = cpu_seconds(server.proc.pid), time.monotonic()
            window = measure(loads, args.window)
            cpu = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - wall0)
            rss = rss_kb(server.proc.pid)
            p50, p99 = window.p(0.5), window.p(0.99)
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(window.error_kinds.items()))
            errors = f"{window.errors}" + (f" ({kinds})" if kinds else "")
            rows.append(
                f"| {step} | {failed} | {connect_s:.0f} s | {ms(boot_p99)} "
                f"| {window.count / window.seconds:.0f} | {ms(p50)} | {ms(p99)} "
                f"| {errors} | {window.disconnects} | {cpu * 100:.0f} % | {rss / 1024:.0f} MB "
                f"| {(rss - idle_rss) / step:.1f} |"
            )
            print(rows[-1], flush=True)
            if not server.alive:
                notes.append(f"The server died at {step} chargers.")
                break
            if failed or window.errors or window.disconnects:
                notes.append(f"Stopped stepping: the {step}-charger step failed.")
                break
            if p99 is not None and p99 <= P99_LIMIT_MS:
                within = step
    finally:
        for load in loads:
            load.quit()
        server.stop()
    notes.append(
        f"Most chargers with p99 under {P99_LIMIT_MS:.0f} ms: {within or 'none of the steps'}"
        " (stepping goes on past that limit while nothing fails, to show how it degrades)."
    )
    notes.append(f"chargegate (log level warning) {log_summary(server.log)}.")
    return rows, notes


def throughput_one(server: Server, url: str, action: str, args: argparse.Namespace) -> str:
    load = Load(url, "throughput", "TP-", 0, args.concurrency, ["--action", action])
    try:
        load.expect("ready", args.connect_timeout)
        time.sleep(0.5)
        cpu0 = cpu_seconds(server.proc.pid)
        window = measure([load], args.seconds)
        cpu = cpu_seconds(server.proc.pid) - cpu0
    finally:
        load.quit()
    per_s = window.count / window.seconds
    per_cpu = window.count / cpu if cpu > 0 else float("nan")
    return json.dumps(
        {
            "per_s": per_s,
            "per_cpu": per_cpu,
            "cpu": cpu / window.seconds,
            "p50": window.p(0.5),
            "p99": window.p(0.99),
            "errors": window.errors,
        }
    )


def throughput(args: argparse.Namespace, workdir: Path) -> list[str]:
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for name in ("chargegate", "baseline"):
        if name == "chargegate":
            server, port = start_chargegate(workdir, "throughput")
            url = f"ws://127.0.0.1:{port}/ocpp"
        else:
            port = free_port()
            command = [sys.executable, str(BASELINE), "--port", str(port)]
            server = Server(name, command, dict(os.environ), workdir / "baseline.log")
            server.wait_listening(port)
            url = f"ws://127.0.0.1:{port}"
        try:
            figures[name] = {a: json.loads(throughput_one(server, url, a, args)) for a in ACTIONS}
        finally:
            server.stop()
    rows = []
    for action in ACTIONS:
        cg, bl = figures["chargegate"][action], figures["baseline"][action]
        row = f"| {action} "
        for f in (cg, bl):
            row += (
                f"| {f['per_s']:.0f} | {f['cpu'] * 100:.0f} % | {f['per_cpu']:.0f} "
                f"| {ms(f['p50'])} / {ms(f['p99'])} | {f['errors']} "
            )
        row += f"| {cg['per_cpu'] / bl['per_cpu']:.2f} |"
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument("--steps", default="1000,2500,5000,10000,20000")
    parser.add_argument("--period", type=float, default=10.0, help="seconds between each action")
    parser.add_argument("--window", type=float, default=20.0, help="measured seconds per step")
    parser.add_argument("--concurrency", type=int, default=50, help="throughput chargers")
    parser.add_argument("--seconds", type=float, default=15.0, help="throughput window")
    parser.add_argument("--connect-timeout", type=float, default=240.0)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for hold steps")
    parser.add_argument("--out", type=Path, default=RESULTS / "chargers.md")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.period, args.window = "50,200", 2.0, 4.0
        args.concurrency, args.seconds, args.connect_timeout, args.budget = 10, 3.0, 60.0, 30.0
    args.steps = [int(s) for s in args.steps.split(",")]
    if not (BENCH / "js" / "node_modules" / "ocpp-rpc").exists():
        sys.exit("bench/js: run `npm install --no-save --no-package-lock --no-audit --no-fund`")
    nofile = raise_nofile()
    # The server needs a descriptor per charger plus some of its own; the hard limit may be fixed.
    most = nofile - 1000
    clamped = [s for s in args.steps if s > most]
    args.steps = sorted({min(s, most) for s in args.steps})
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-chargers-"))
    try:
        print(
            "| chargers | connect failed | connect time | boot p99 | calls/s | p50 | p99 "
            "| errors | disconnects | server CPU | server RSS | KB/charger |",
            flush=True,
        )
        hold_rows, notes = hold(args, workdir, began)
        if clamped:
            notes.insert(
                0,
                f"Steps {clamped} lowered to {most}: RLIMIT_NOFILE is {nofile} and could not be"
                " raised (no CAP_SYS_RESOURCE).",
            )
        tp_rows = throughput(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = "\n".join(
        [
            "### Connected chargers (one node, SQLite)" + (" (--quick)" if args.quick else ""),
            "",
            f"OCPP 1.6 chargers from bench/js/load.mjs (npm ocpp-rpc, {CHARGERS_PER_PROCESS} per"
            f" node process at most), each booting once, then sending Heartbeat,"
            f" StatusNotification and MeterValues once per {args.period:g} s each (jittered"
            f" +-20 %). Steps add chargers to those connected; each step measures a"
            f" {args.window:g} s window. KB/charger = (RSS - idle RSS) / chargers. Load"
            f" generator and server share the machine's {os.cpu_count()} cores;"
            f" RLIMIT_NOFILE {nofile}.",
            "",
            "| chargers | connect failed | connect time | boot p99 | calls/s | p50 | p99 "
            "| errors | disconnects | server CPU | server RSS | KB/charger |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *hold_rows,
            "",
            *[f"- {note}" for note in notes],
            "",
            "### Throughput per server CPU-second: chargegate vs a roll-your-own baseline",
            "",
            f"{args.concurrency} chargers send one action back to back for {args.seconds:g} s"
            " (one CALL outstanding each). Baseline: bench/baseline_csms.py (mobilityhouse"
            " `ocpp` + `websockets` defaults, stores nothing). Per CPU-s = round trips / server"
            " utime+stime. chargegate on SQLite (WAL, synchronous=FULL), fresh database.",
            "",
            "| action | chargegate calls/s | CPU | per CPU-s | p50 / p99 | errors "
            "| baseline calls/s | CPU | per CPU-s | p50 / p99 | errors | chargegate/baseline "
            "per CPU-s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *tp_rows,
            "",
            f"Total run time {time.monotonic() - began:.0f} s.",
            "",
        ]
    )
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
