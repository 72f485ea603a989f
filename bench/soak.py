"""Soak under hostile load (issue 12): well-behaved chargers and an API client run sessions for
--baseline-minutes alone, then for --minutes while --hostile actors (bench/hostile.py) attack
the same server with everything issue 12 names, all at once.

One `chargegate serve` with its default limits (per charger, per address, per handshake, per API
key), which the well-behaved stay within. Set for the benchmark:
CHARGEGATE_WEBHOOK_ALLOW_PRIVATE (the hostile operator's trickling webhook receiver listens on
127.0.0.1, which production refuses) and auto-registration with a bootstrap secret, which the
hostile actors know (as if leaked from a charger) and flood with made-up ids.

Well-behaved: --good OCPP 1.6 chargers from bench/js/sessions.mjs (npm ocpp-rpc, one node
process), each with its own password and its own loopback address (127.1.x.y), sending
Heartbeat, StatusNotification and MeterValues once per --period seconds each and running the
sessions the API client starts and stops; the API client (this process, 127.0.0.1) runs
--api-workers session loops (start, wait until Open, extend, read, stop, wait until Closed).

Reported (stdout and bench/results/soak.md): 5xx answers; sessions started and stopped, lost
(accepted but never opened or never closed) and doubled (two RemoteStarts or StartTransactions
for one session, two transactions where one was started); p50/p99 of the API client's requests
and of the chargers' round trips in both phases and the ratio of the p99s (target: at most 2x);
the server's RSS every 10 s (first, last, max, slope); CPU of each process and the server's
scrypt checks per phase; what the hostile actors got. It never fails for being slow: it exits
non-zero only if the benchmark itself broke.

    .venv/bin/python bench/soak.py [--minutes 10] [--good 1000] [--hostile 50]
        [--baseline-minutes N] [--database sqlite|postgres] [--period 30] [--api-workers 20]
        [--kinds bad_keys,slowloris,...] [--set CHARGEGATE_X=VALUE ...] [--hostile-nice 19]
        [--quick]

--kinds runs only some of the hostile actors and --set changes a server setting, to find which
attack costs the well-behaved what, and what a limit changes.

The hostile actors run at --hostile-nice (default 19): in the field they are other machines, and
on this one their own processes would otherwise take a share of the cores the server and the
well-behaved load run on. Everything the server does because of them stays counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import (
    UNLIMITED,
    Chargers,
    bounded,
    cpu_seconds,
    database,
    free_port,
    ms,
    provision,
    publish,
    quantile,
    rss_kb,
    start_chargers,
    start_server,
    stop_server,
)

from chargegate import provisioning
from chargegate.config import Settings
from chargegate.domain import credentials

HOSTILE = Path(__file__).with_name("hostile.py")
CONNECTORS = 2
API_TIME = "%Y-%m-%dT%H:%M:%S+0000"
GOOD, BAD = "SOAK-", "HOSTILE-"
RSS_EVERY_S = 10.0
SLOW_CHECKS = "chargegate_slow_checks_total"


def say(text: str) -> None:
    """Progress, with the time of day to find it in the server's log."""
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", flush=True)


def production_limits() -> dict[str, str]:
    """The server's own defaults for the limits common.UNLIMITED lifts: this benchmark is about
    the limits, so it runs with them. The well-behaved stay within them (the API client's 20
    session loops send about 40 requests a second against 50 per key)."""
    defaults = Settings.model_fields
    return {
        name: str(defaults[name.removeprefix("CHARGEGATE_").lower()].default) for name in UNLIMITED
    }


@dataclass
class Phase:
    """What the API client saw in one phase."""

    name: str
    latencies: list[float] = field(default_factory=list)
    # The same, by what was asked: "GET /queue/{id}" for the API client, the action for chargers.
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    created: int = 0
    opened: int = 0
    closed: int = 0
    # Sessions accepted (201) that did not open, and opened that did not close, with why.
    not_opened: Counter[str] = field(default_factory=Counter)
    not_closed: Counter[str] = field(default_factory=Counter)
    round_trips: list[float] = field(default_factory=list)
    charger_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # CPU seconds the server and the chargers' node process used in this phase.
    server_cpu: float = 0.0
    chargers_cpu: float = 0.0
    # scrypt checks the server ran in this phase, by what they checked.
    slow_checks: Counter[str] = field(default_factory=Counter)


class Client:
    """The well-behaved API client: every request timed and its status counted."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        # transaction uuid -> port uuid, of every session started
        self.sessions: dict[str, str] = {}

    async def request(self, phase: Phase, method: str, path: str, **kw: Any) -> httpx.Response:
        """As a careful app does: a request cut off on the way (a kept-alive socket closed by
        the server as it was reused) is sent again, POST and PATCH with an Idempotency-Key so
        that a retry cannot start or stop twice; a 429 is sent again after its Retry-After.
        Each attempt is timed and counted."""
        if method in ("POST", "PATCH"):
            kw["headers"] = {"Idempotency-Key": str(uuid.uuid4())}
        route = re.sub(r"/[0-9a-f-]{36}", "/{id}", path)
        for attempt in range(5):
            began = time.perf_counter()
            try:
                response = await self.http.request(method, path, **kw)
            except httpx.TransportError as exc:
                phase.statuses[f"{method} {route} {type(exc).__name__}"] += 1
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5)
                continue
            phase.latencies.append(time.perf_counter() - began)
            phase.by_kind.setdefault(f"{method} {route}", []).append(phase.latencies[-1])
            phase.statuses[f"{method} {route} {response.status_code}"] += 1
            if response.status_code == 429 and attempt < 4:
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            return response
        raise AssertionError("unreachable")

    async def settled(self, phase: Phase, queue_uuid: str, timeout: float) -> dict[str, Any]:
        """The queue item once it is no longer IN PROGRESS (or as it is at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = (await self.request(phase, "GET", f"/queue/{queue_uuid}")).json()
            if body.get("status") != "IN PROGRESS" or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.25)

    async def session(self, phase: Phase, port: str) -> None:
        far = (datetime.now(UTC) + timedelta(hours=1)).strftime(API_TIME)
        created = await self.request(
            phase, "POST", "/transactions", json={"port_uuid": port, "expires": far}
        )
        if created.status_code != 201:
            return
        body = created.json()
        tx = body["transaction_uuid"]
        self.sessions[tx] = port
        phase.created += 1
        started = await self.settled(phase, body["queue_uuid"], 150)
        if started.get("state") != "Open":
            phase.not_opened[f"{started.get('status')} {started.get('state')}"] += 1
            return
        phase.opened += 1
        await asyncio.sleep(random.uniform(1, 5))
        later = (datetime.now(UTC) + timedelta(hours=2)).strftime(API_TIME)
        await self.request(phase, "PATCH", f"/transactions/{tx}", json={"expires": later})
        await self.request(phase, "GET", f"/transactions/{tx}")
        stop = await self.request(phase, "PATCH", f"/transactions/{tx}", json={"state": "closed"})
        if stop.status_code != 202:
            phase.not_closed[f"stop answered {stop.status_code}"] += 1
            return
        stopped = await self.settled(phase, stop.json()["id"], 150)
        if stopped.get("state") != "Closed":
            phase.not_closed[f"{stopped.get('status')} {stopped.get('state')}"] += 1
            return
        phase.closed += 1

    async def run(
        self,
        phase: Phase,
        ports: list[str],
        workers: int,
        seconds: float,
        pids: tuple[int, int],
        port: int,
    ) -> None:
        """`workers` loops, each over ports of its own (a port is never busy with another
        worker's session), starting sessions until `seconds` have passed; each loop ends its
        last session before returning. `pids`: the server's and the chargers' processes."""
        deadline = time.monotonic() + seconds
        cpu = [cpu_seconds(pid) for pid in pids]
        checks = by_label(await metrics(port), SLOW_CHECKS)

        async def loop(mine: list[str]) -> None:
            for n in range(10**9):
                if time.monotonic() >= deadline:
                    return
                try:
                    await self.session(phase, mine[n % len(mine)])
                except httpx.TransportError:
                    await asyncio.sleep(1)

        began = time.monotonic()
        await asyncio.gather(*(loop(ports[w::workers]) for w in range(workers)))
        phase.seconds = time.monotonic() - began
        phase.server_cpu, phase.chargers_cpu = (
            cpu_seconds(pid) - before for pid, before in zip(pids, cpu, strict=True)
        )
        phase.slow_checks = Counter(by_label(await metrics(port), SLOW_CHECKS))
        phase.slow_checks.subtract(checks)


async def sample_rss(pid: int, samples: list[tuple[float, str, int]], phase: list[str]) -> None:
    began = time.monotonic()
    while True:
        samples.append((time.monotonic() - began, phase[0], rss_kb(pid)))
        await asyncio.sleep(RSS_EVERY_S)


def slope_mb_per_min(samples: list[tuple[float, str, int]]) -> float | None:
    """Least-squares slope of RSS over time."""
    if len(samples) < 3:
        return None
    xs = [t / 60 for t, _, _ in samples]
    ys = [kb / 1024 for _, _, kb in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else None


def hashes(passwords: list[str]) -> list[str]:
    with ProcessPoolExecutor() as pool:
        return list(pool.map(credentials.hash_password, passwords, chunksize=16))


async def metrics(port: int) -> dict[str, float]:
    """The server's /metrics: each series (name and labels) and its value."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return {
        series: float(value)
        for series, value in re.findall(r"^(\w+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE)
    }


def server_5xx(seen: dict[str, float]) -> int:
    """5xx answers the server counted (chargegate_api_request_seconds by status)."""
    five = r'chargegate_api_request_seconds_count\{.*status="5\d\d"'
    return int(sum(value for series, value in seen.items() if re.match(five, series)))


def by_label(seen: dict[str, float], name: str) -> dict[str, int]:
    """A counter with one label, by that label's value."""
    found = (re.fullmatch(rf'{name}\{{\w+="(\w+)"\}}', series) for series in seen)
    return {m.group(1): int(seen[m.group(0)]) for m in found if m}


async def charger_report(groups: list[Chargers], phase: Phase | None) -> dict[str, Any]:
    """The chargers' counts so far; round trips since the last report go to `phase`."""
    merged: dict[str, Any] = {"open": 0, "stops": {}, "remoteStarts": {}, "startTransactions": {}}
    merged["disconnects"] = 0
    for group in groups:
        report = await group.report()
        for name in ("open", "disconnects"):
            merged[name] += report[name]
        for name in ("stops", "remoteStarts", "startTransactions"):
            merged[name].update(report[name])
        if phase is not None:
            for action, trips in report["roundTrips"].items():
                seconds = [value / 1000 for value in trips]
                phase.round_trips += seconds
                phase.by_kind.setdefault(action, []).extend(seconds)
            phase.charger_errors.update(report["errors"])
    return merged


async def final_states(client: Client) -> tuple[Counter[str], int]:
    """The state of every session started, from each port's list; and how many transactions
    the lists hold that the client never started (a session doubled)."""
    ports = sorted(set(client.sessions.values()))
    after = Phase("after")  # through request(), which waits out the key's rate limit
    lists = await bounded(
        8,
        [
            client.request(after, "GET", "/transactions", params={"port_uuid": p, "limit": 0})
            for p in ports
        ],
    )
    states: Counter[str] = Counter()
    unknown = 0
    for response in lists:
        response.raise_for_status()
        for tx in response.json():
            if tx["transaction_uuid"] in client.sessions:
                states[tx["state"]] += 1
            else:
                unknown += 1
    return states, unknown


def latency_row(name: str, baseline: list[float], hostile: list[float]) -> str:
    if not baseline or not hostile:
        return f"| {name} | - | - | - | - | - |"
    return (
        f"| {name} | {ms(quantile(baseline, 0.5))} | {ms(quantile(baseline, 0.99))} "
        f"| {ms(quantile(hostile, 0.5))} | {ms(quantile(hostile, 0.99))} "
        f"| {ratio(baseline, hostile)} |"
    )


def ratio(baseline: list[float], hostile: list[float]) -> str:
    if not baseline or not hostile:
        return "-"
    return f"{quantile(hostile, 0.99) / quantile(baseline, 0.99):.2f}x"


def cores(cpu_s: float, phase: Phase) -> str:
    return f"{cpu_s / phase.seconds:.2f}" if phase.seconds else "-"


def counts(counter: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


async def run(args: argparse.Namespace) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-soak-"))
    good_secret, bad_secret = secrets.token_hex(8), secrets.token_hex(8)
    auto_secret = secrets.token_hex(16)
    hook_port = free_port()
    say(f"hashing {args.good + args.hostile} charger passwords (scrypt)")
    loop = asyncio.get_running_loop()
    good_hashes, bad_hashes = await loop.run_in_executor(
        None,
        lambda: (
            hashes([f"{good_secret}{n}" for n in range(args.good)]),
            hashes([f"{bad_secret}{n}" for n in range(args.hostile)]),
        ),
    )
    async with database(args.database, workdir) as url:
        key, ports = await provision(url, GOOD, args.good, CONNECTORS, "soak", good_hashes)
        bad_key, bad_ports = await provision(url, BAD, args.hostile, 1, "hostile", bad_hashes)
        await provisioning.add_webhook(
            Settings(database_url=url, webhook_allow_private=True),
            "hostile",
            f"http://127.0.0.1:{hook_port}/hook",
        )
        env = production_limits() | {
            "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE": "true",
            "CHARGEGATE_AUTO_REGISTER": "true",
            "CHARGEGATE_AUTO_REGISTER_SECRET": auto_secret,
        }
        env |= dict(setting.split("=", 1) for setting in args.set)
        server, port = await start_server(url, workdir / "server.log", env)
        say(f"server log: {workdir / 'server.log'}")
        rss: list[tuple[float, str, int]] = []
        current = ["connect"]
        sampler = asyncio.create_task(sample_rss(server.pid, rss, current))
        groups: list[Chargers] = []
        baseline, attacked = Phase("baseline"), Phase("hostile")
        hostile_report: dict[str, Any] = {}
        try:
            began = time.monotonic()
            options = ["--password", good_secret, "--address-base", "127.1"]
            groups = await start_chargers(
                f"ws://127.0.0.1:{port}/ocpp",
                GOOD,
                args.good,
                CONNECTORS,
                options=[*options, "--period", str(args.period)],
            )
            say(f"{args.good} chargers connected in {time.monotonic() - began:.0f} s")
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}/1.2",
                headers={"x-api-key": key},
                timeout=120,
                # Below uvicorn's 5 s, so that the client, not the server, drops an idle socket.
                limits=httpx.Limits(keepalive_expiry=4),
            ) as http:
                client = Client(http)
                await charger_report(groups, None)  # round trips from here on
                current[0] = "baseline"
                say(f"baseline: {args.baseline_minutes:g} min")
                pids = (server.pid, groups[0].proc.pid)
                await client.run(
                    baseline, ports, args.api_workers, args.baseline_minutes * 60, pids, port
                )
                await charger_report(groups, baseline)
                current[0] = "hostile"
                say(f"with {args.hostile} hostile actors: {args.minutes:g} min")
                hostile = await asyncio.create_subprocess_exec(
                    sys.executable, str(HOSTILE), "--port", str(port), "--key", bad_key,
                    "--seconds", str(args.minutes * 60), "--actors", str(args.hostile),
                    "--hostile-prefix", BAD, "--hostile-password", bad_secret,
                    "--good-prefix", GOOD, "--good-count", str(args.good),
                    "--auto-secret", auto_secret, "--webhook-port", str(hook_port),
                    "--own-port", bad_ports[0], "--foreign-port", ports[0], "--kinds", args.kinds,
                    stdout=asyncio.subprocess.PIPE, limit=1 << 26,
                    preexec_fn=lambda: os.nice(args.hostile_nice),
                )  # fmt: skip
                await client.run(attacked, ports, args.api_workers, args.minutes * 60, pids, port)
                out, _ = await asyncio.wait_for(hostile.communicate(), 120)
                if hostile.returncode != 0:
                    raise RuntimeError(f"bench/hostile.py exited with {hostile.returncode}")
                hostile_report = json.loads(out.decode().strip().splitlines()[-1])
                current[0] = "after"
                say("checking sessions")
                await asyncio.sleep(5)  # a late, doubled start or stop would show up here
                chargers = await charger_report(groups, attacked)
                states, unknown = await final_states(client)
                seen = await metrics(port)
                dropped = by_label(seen, "chargegate_sockets_dropped_total")
                end = End(
                    chargers, states, unknown, server_5xx(seen), dropped, rss, hostile_report, ""
                )
                end.log = (workdir / "server.log").read_text(errors="replace")
                # The fleet goes away at once; the server is stopped once it has taken note (each
                # disconnect is a write), so that its shutdown does not cut those writes short.
                began = time.monotonic()
                for group in groups:
                    await group.quit()
                groups = []
                while time.monotonic() - began < 120:
                    if (await metrics(port)).get("chargegate_connected_chargers", 0) == 0:
                        end.released_s = time.monotonic() - began
                        break
                    await asyncio.sleep(0.5)
        finally:
            sampler.cancel()
            for group in groups:
                await group.quit()
            await stop_server(server)
    end.shutdown_log = (workdir / "server.log").read_text(errors="replace")[len(end.log) :]
    return report(args, baseline, attacked, end)


@dataclass
class End:
    """What is read once both phases are over."""

    chargers: dict[str, Any]
    states: Counter[str]
    # Transactions on the client's ports that the client never started.
    unknown: int
    server_5xx: int
    dropped: dict[str, int]
    rss: list[tuple[float, str, int]]
    hostile: dict[str, Any]
    # The server's log until the fleet disconnected, and from then on.
    log: str
    shutdown_log: str = ""
    # Seconds from the fleet disconnecting to the server counting no charger connected.
    released_s: float | None = None


def sessions_cell(baseline: Phase, attacked: Phase, end: End) -> str:
    both = (baseline, attacked)
    never_opened = sum(p.created - p.opened for p in both)
    never_closed = sum(p.opened - p.closed for p in both)
    why_not_opened = counts(baseline.not_opened + attacked.not_opened)
    why_not_closed = counts(baseline.not_closed + attacked.not_closed)
    chargers = end.chargers
    return (
        f"started {baseline.created} + {attacked.created}, opened {baseline.opened} +"
        f" {attacked.opened}, closed {baseline.closed} + {attacked.closed} (baseline + hostile);"
        f" lost: {never_opened} accepted and never opened"
        + (f" ({why_not_opened})" if never_opened else "")
        + f", {never_closed} opened and never closed"
        + (f" ({why_not_closed})" if never_closed else "")
        + f"; doubled: {sum(n > 1 for n in chargers['remoteStarts'].values())} RemoteStarts,"
        f" {sum(n > 1 for n in chargers['startTransactions'].values())} StartTransactions,"
        f" {sum(len(t) > 1 for t in chargers['stops'].values())} RemoteStops for one session,"
        f" {end.unknown} transactions the client did not start; final states"
        f" {counts(end.states)}; open at the chargers at the end: {chargers['open']}"
    )


def rss_rows(rss: list[tuple[float, str, int]]) -> list[str]:
    rows = []
    for name in ("connect", "baseline", "hostile", "after"):
        samples = [sample for sample in rss if sample[1] == name]
        if not samples:
            continue
        slope = slope_mb_per_min(samples)
        kbs = [kb for _, _, kb in samples]
        rows.append(
            f"| {name} | {len(kbs)} | {kbs[0] / 1024:.0f} MB | {kbs[-1] / 1024:.0f} MB "
            f"| {max(kbs) / 1024:.0f} MB | "
            + ("-" if slope is None else f"{slope:+.2f} MB/min")
            + " |"
        )
    return rows


def hostile_lines(end: End) -> list[str]:
    outcomes: dict[str, dict[str, int]] = end.hostile.get("outcomes", {})
    held = end.hostile.get("slow_sockets_held_s", [])
    posts = end.hostile.get("webhook_posts_held_s", [])
    return [
        "What the hostile actors got (HTTP status, WebSocket close code, OCPP CALLERROR):",
        "",
        "| actor | what it does | how many | outcomes |",
        "|---|---|---|---|",
        *(
            f"| {kind} | {end.hostile.get('what', {}).get(kind, '')}"
            f" | {end.hostile.get('actors', {}).get(kind, 0)} | {counts(seen)} |"
            for kind, seen in sorted(outcomes.items())
        ),
        "",
        f"Slow sockets held before the server cut them: {len(held)},"
        + (f" p50 {quantile(held, 0.5):.1f} s, max {max(held):.1f} s." if held else " none.")
        + f" Sockets the server dropped: {counts(end.dropped) or 'none'}."
        f" Webhook POSTs to the trickling receiver: {len(posts)}"
        + (f", held up to {max(posts):.1f} s each." if posts else "."),
    ]


def logged_errors(log: str) -> Counter[str]:
    """Error lines of the server's log by message and the exception's last line."""
    found: Counter[str] = Counter()
    for line in log.splitlines():
        if not re.search(r'"level": ?"(error|critical)"', line):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            found["(not JSON)"] += 1
            continue
        last = (record.get("exc") or "").strip().splitlines()[-1:] or [""]
        where = f" {record['path']}" if record.get("path") else ""
        found[f"{record.get('msg', '').strip()}{where} {last[0][:120]}".strip()] += 1
    return found


def report(args: argparse.Namespace, baseline: Phase, attacked: Phase, end: End) -> str:
    client_5xx = sum(
        n for phase in (baseline, attacked) for k, n in phase.statuses.items() if k[-3] == "5"
    )
    hostile_5xx = sum(
        n
        for seen in end.hostile.get("outcomes", {}).values()
        for k, n in seen.items()
        if re.search(r"\b5\d\d\b", k)
    )
    errors, at_shutdown = logged_errors(end.log), logged_errors(end.shutdown_log)
    attacked_rss = [sample for sample in end.rss if sample[1] == "hostile"]
    # The attack's first minutes add what it holds (sockets, auto-registered chargers); growth
    # that goes on is what its second half shows.
    whole, late = (
        slope_mb_per_min(samples)
        for samples in (attacked_rss, attacked_rss[len(attacked_rss) // 2 :])
    )
    memory = (
        "too few samples"
        if whole is None or late is None
        else f"{whole:+.2f} MB/min under attack, {late:+.2f} MB/min in its second half"
    )
    api = (baseline.latencies, attacked.latencies)
    trips = (baseline.round_trips, attacked.round_trips)
    hostile_cpu = end.hostile.get("cpu_s", 0)
    database = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    return "\n".join(
        [
            f"### Soak under hostile load (one node, {database})",
            "",
            f"{args.good} OCPP 1.6 chargers (bench/js/sessions.mjs, {CONNECTORS} connectors, own"
            f" password and loopback address each, Heartbeat/StatusNotification/MeterValues"
            f" every {args.period:g} s each) and one API client ({args.api_workers} session"
            " loops: start, wait Open, extend, read, stop, wait Closed):"
            f" {args.baseline_minutes:g} min alone, then {args.minutes:g} min with"
            f" {args.hostile} hostile actors (bench/hostile.py, one loopback address each) doing"
            " all of issue 12 at once. The server's default limits; webhooks to private"
            " addresses allowed (the hostile operator's trickling receiver is on 127.0.0.1);"
            " auto-registration on, its bootstrap secret known to the attackers."
            + (f" Also set: {', '.join(args.set)}." if args.set else "")
            + (f" Hostile actors of these kinds only: {args.kinds}." if args.kinds else ""),
            "",
            "| | target | measured |",
            "|---|---|---|",
            f"| 5xx answers | 0 | {end.server_5xx} counted by the server (API routes only, not"
            f" WebSocket handshakes); {client_5xx} seen by"
            f" the API client, {hostile_5xx} by the hostile actors; error lines logged:"
            f" {counts(errors) or 'none'}; once the fleet disconnected and the server stopped:"
            f" {counts(at_shutdown) or 'none'} |",
            f"| sessions | none lost or doubled | {sessions_cell(baseline, attacked, end)} |",
            f"| well-behaved p99, hostile / baseline | <= 2x | API {ratio(*api)},"
            f" charger round trips {ratio(*trips)} |",
            f"| server memory | flat | {memory} (below) |",
            f"| charger disconnects | 0 | {end.chargers['disconnects']} (the whole fleet's"
            " disconnects at the end taken note of in"
            + (" more than 120 s" if end.released_s is None else f" {end.released_s:.1f} s")
            + ") |",
            "",
            "| latency | baseline p50 | baseline p99 | hostile p50 | hostile p99 | p99 ratio |",
            "|---|---|---|---|---|---|",
            latency_row(f"API requests ({len(api[0])} + {len(api[1])})", *api),
            latency_row(f"charger round trips ({len(trips[0])} + {len(trips[1])})", *trips),
            *(
                latency_row(f"- {kind}", baseline.by_kind[kind], attacked.by_kind.get(kind, []))
                for kind in sorted(baseline.by_kind)
            ),
            "",
            f"CPU, in cores busy on average (of {os.cpu_count()}): server"
            f" {cores(baseline.server_cpu, baseline)} in the baseline,"
            f" {cores(attacked.server_cpu, attacked)} under attack; the chargers' node process"
            f" {cores(baseline.chargers_cpu, baseline)}, {cores(attacked.chargers_cpu, attacked)};"
            f" the hostile actors' process {cores(hostile_cpu, attacked)}, at niceness"
            f" {args.hostile_nice}"
            + (
                " (standing for machines elsewhere: it takes only CPU the server and the"
                " well-behaved leave idle, so what the ratio shows is the server's own cost of"
                " the attack, not a share of 2 cores lost to the attackers' processes)"
                if args.hostile_nice
                else " (competing with the server for the same cores)"
            )
            + ". scrypt checks run by the server (charger passwords, old API"
            f" keys): baseline {counts(baseline.slow_checks) or 'none'}; under attack"
            f" {counts(attacked.slow_checks) or 'none'}"
            f" ({sum(attacked.slow_checks.values()) / max(attacked.seconds, 1):.1f} a second).",
            "",
            f"Charger call errors: baseline {counts(baseline.charger_errors) or 'none'};"
            f" hostile {counts(attacked.charger_errors) or 'none'}. API answers:"
            f" baseline {counts(baseline.statuses)}; hostile {counts(attacked.statuses)}.",
            "",
            f"Server RSS every {RSS_EVERY_S:.0f} s:",
            "",
            "| phase | samples | first | last | max | slope |",
            "|---|---|---|---|---|---|",
            *rss_rows(end.rss),
            "",
            *hostile_lines(end),
            "",
        ]
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--baseline-minutes", type=float, default=None, help="default: --minutes")
    parser.add_argument("--good", type=int, default=1000)
    parser.add_argument("--hostile", type=int, default=50)
    parser.add_argument(
        "--database", choices=["sqlite", "postgres", "postgresql"], default="sqlite"
    )
    parser.add_argument("--period", type=float, default=30, help="seconds between each message")
    parser.add_argument("--api-workers", type=int, default=20)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CHARGEGATE_X=VALUE",
        help="a server setting of this run (repeatable), e.g. to try a limit; said in the report",
    )
    parser.add_argument(
        "--kinds",
        default="",
        help="only these hostile actors, comma-separated (see bench/hostile.py); default: all",
    )
    parser.add_argument(
        "--hostile-nice",
        type=int,
        default=19,
        help="niceness of the hostile actors' process (0: as the server's)",
    )
    parser.add_argument("--quick", action="store_true", help="1 + 1 min, 100 chargers, 10 actors")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.good, args.hostile, args.api_workers = 1, 100, 10, 5
    if args.baseline_minutes is None:
        args.baseline_minutes = args.minutes
    args.database = "postgresql" if args.database == "postgres" else args.database
    text = await run(args)
    publish("soak", text)


if __name__ == "__main__":
    asyncio.run(main())
