"""The hostile actors of bench/soak.py, in a process of their own so that their work does not
delay the well-behaved API client's measurements: issue 12's threats, all at once.

Each actor comes from a loopback address of its own (127.2.0.<n>), as attackers come from
addresses other than the fleet's, and each kind is paced so that 50 actors stay a fraction of
the 2-core machine the benchmark runs on. They record what the server answered (HTTP status,
WebSocket close code, OCPP CALLERROR code) and never assert anything; at the end one JSON line
goes to stdout. Run by soak.py:

    python bench/hostile.py --port P --key K --seconds S --actors 50 --hostile-prefix HOSTILE-
        --hostile-password PW --good-prefix SOAK- --good-count 1000 --auto-secret SECRET
        --webhook-port W --own-port UUID --foreign-port UUID [--kinds bad_keys,flood,...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import secrets
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import websockets
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from chargegate.sim.quirks import BAD_TEXT

# Outcomes by actor kind, e.g. tally["bad_keys"]["429"].
tally: defaultdict[str, Counter[str]] = defaultdict(Counter)
# Seconds each slow socket was held before the server closed it.
held_s: list[float] = []
# The trickling webhook receiver: POSTs received and how long each was held before the sender
# hung up.
webhook_posts: list[float] = []
OCPP16 = [Subprotocol("ocpp1.6")]


def at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def note(kind: str, outcome: object) -> None:
    tally[kind][str(outcome)] += 1


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class Actors:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.http = f"http://127.0.0.1:{args.port}"
        self.ws = f"ws://127.0.0.1:{args.port}/ocpp"

    # -- the API ---------------------------------------------------------------------------

    def client(self, address: str, key: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.http}/1.2",
            headers={"x-api-key": key} if key else {},
            timeout=60,
            transport=httpx.AsyncHTTPTransport(local_address=address),
        )

    async def bad_keys(self, address: str) -> None:
        """Guessed keys of every shape, half of them naming a made-up client address in
        X-Forwarded-For (ignored from a peer that is no trusted proxy)."""
        lookup = self.args.key.split("_")[1]
        async with self.client(address) as client:
            while True:
                key = random.choice(
                    [
                        f"cg_{lookup}_{secrets.token_urlsafe(32)[:43]}",
                        f"cg_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)[:43]}",
                        "not-a-key",
                        "",
                    ]
                )
                headers = {"x-api-key": key} if key else {}
                if random.random() < 0.5:
                    headers["X-Forwarded-For"] = f"203.0.113.{random.randint(1, 254)}"
                path = random.choice(["/ports", "/transactions", f"/queue/{uuid.uuid4()}"])
                note("bad_keys", (await client.get(path, headers=headers)).status_code)
                await asyncio.sleep(0.1)

    async def api_bounds(self, address: str) -> None:
        """The hostile operator's own valid key on everything out of bounds: forged cursors,
        bad ids, another operator's port, `limit: 0` lists, bodies too big or not JSON."""
        own, foreign = self.args.own_port, self.args.foreign_port
        far = "9999-12-31T23:59:59+0000"
        requests: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = [
            lambda c: c.get(
                "/transactions",
                params={"port_uuid": own, "limit": 1, "cursor": cursor(f"2030-01-01|{2**64}")},
            ),
            lambda c: c.get(
                "/transactions",
                params={"port_uuid": own, "cursor": cursor("9999-12-31T23:00:00-05:00|1")},
            ),
            lambda c: c.get("/ports", params={"limit": 1, "cursor": cursor(f"{2**64}|CP-1")}),
            lambda c: c.get("/ports", params={"limit": 1, "cursor": "%%%" + "A" * 4000}),
            lambda c: c.get("/ports", params={"limit": 0}),
            lambda c: c.get("/transactions", params={"port_uuid": own, "limit": 0}),
            lambda c: c.get("/transactions", params={"port_uuid": foreign, "limit": 0}),
            lambda c: c.get("/transactions", params={"limit": -1}),
            lambda c: c.get("/transactions", params={"limit": 2**70}),
            lambda c: c.get("/transactions/not-a-uuid"),
            lambda c: c.get(f"/transactions/{uuid.uuid4()}"),
            lambda c: c.get("/queue/" + "x" * 5000),
            lambda c: c.post("/transactions", json={"port_uuid": foreign, "expires": far}),
            lambda c: c.post("/transactions", json={"port_uuid": own, "expires": "9999-99"}),
            # json.dumps escapes the lone surrogate, which httpx's own encoding would refuse.
            lambda c: c.post(
                "/transactions",
                content=json.dumps({"port_uuid": BAD_TEXT, "expires": far}).encode(),
                headers={"content-type": "application/json"},
            ),
            lambda c: c.post("/transactions", content=b"{not json"),
            lambda c: c.post(
                "/transactions", json={"port_uuid": own, "expires": far, "pad": "x" * 100_000}
            ),
            lambda c: c.patch(f"/transactions/{uuid.uuid4()}", json={"state": "closed"}),
            lambda c: c.patch(f"/transactions/{uuid.uuid4()}", json={"expires": 2**64}),
        ]
        async with self.client(address, self.args.key) as client:
            while True:
                note("api_bounds", (await random.choice(requests)(client)).status_code)
                await asyncio.sleep(0.1)

    # -- sockets ---------------------------------------------------------------------------

    async def slowloris(self, address: str, sockets: int) -> None:
        """`sockets` sockets held open at once: idle, or sending headers a byte at a time
        (API requests and charger upgrades), opened again as the server closes them."""

        async def one(n: int) -> None:
            while True:
                began = time.monotonic()
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", self.args.port, local_addr=(address, 0)
                    )
                except OSError as exc:
                    note("slowloris", type(exc).__name__)
                    await asyncio.sleep(1)
                    continue
                head = [
                    b"",
                    b"GET /1.2/ports HTTP/1.1\r\nHost: cg\r\nx-api-key: cg_" + b"X" * 1000,
                    b"GET /ocpp/SOAK-1 HTTP/1.1\r\nHost: cg\r\nUpgrade: websocket\r\nX-Pad: "
                    + b"X" * 1000,
                ][n % 3]
                outcome = "cut by the server"
                try:
                    # A byte every 2 s (none at all for an idle socket) until the server closes
                    # the socket or, past its headers' deadline, answers.
                    for byte in head or bytes(300):
                        try:
                            answer = await asyncio.wait_for(reader.read(64), 2)
                        except TimeoutError:
                            if head:
                                writer.write(bytes([byte]))
                            continue
                        if answer:
                            outcome = "answered " + answer.split(b"\r\n")[0].decode(
                                errors="replace"
                            )
                        break
                    else:
                        outcome = "still open after 600 s"
                except ConnectionError:
                    pass
                held = time.monotonic() - began
                if held < 1:
                    outcome = "closed at once" if outcome == "cut by the server" else outcome
                else:
                    held_s.append(held)
                note("slowloris", outcome)
                writer.close()
                await asyncio.sleep(random.uniform(0.5, 2) if held < 1 else random.uniform(0, 0.5))

        await asyncio.gather(*(one(n) for n in range(sockets)))

    # -- charger handshakes ----------------------------------------------------------------

    async def handshake(
        self, kind: str, address: str, path: str, headers: dict[str, str], boot: bool = False
    ) -> None:
        try:
            async with connect(
                f"{self.ws}/{path}",
                subprotocols=OCPP16,
                additional_headers=headers,
                local_addr=(address, 0),
                open_timeout=60,
            ) as ws:
                note(kind, "101 (admitted)")
                if boot:
                    await ws.send(json.dumps([2, "b", "BootNotification", BOOT]))
                    await asyncio.wait_for(ws.recv(), 30)
        except websockets.InvalidStatus as exc:
            note(kind, exc.response.status_code)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            note(kind, type(exc).__name__)

    async def wrong_password(self, address: str) -> None:
        """Impersonation: a well-behaved charger's id (connected at the time) with a guess."""
        while True:
            cp = f"{self.args.good_prefix}{random.randrange(self.args.good_count)}"
            password = random.choice([secrets.token_hex(12), f"{self.args.hostile_password}0"])
            await self.handshake("wrong_password", address, cp, basic(cp, password))
            await asyncio.sleep(0.5)

    async def unknown_id(self, address: str) -> None:
        """Ids no charger has (with a password, or none), ids OCPP does not allow, a known id
        with no credentials at all."""
        while True:
            cp = random.choice(
                [
                    f"NOBODY-{secrets.token_hex(4)}",
                    "C" * 49,
                    "CP:1",
                    "CP%00",
                    "CP%20one",
                    f"{self.args.good_prefix}{random.randrange(self.args.good_count)}",
                ]
            )
            headers = basic(cp, secrets.token_hex(8)) if cp.startswith("NOBODY") else {}
            await self.handshake("unknown_id", address, cp, headers)
            await asyncio.sleep(0.5)

    async def auto_register(self, address: str) -> None:
        """New ids with the bootstrap secret (as one leaked from a charger would be): registered
        up to the server's bound, refused beyond it."""
        while True:
            cp = f"AUTO-{secrets.token_hex(6)}"
            await self.handshake(
                "auto_register", address, cp, basic(cp, self.args.auto_secret), boot=True
            )
            await asyncio.sleep(0.5)

    # -- chargers that got in --------------------------------------------------------------

    async def logged_in(self, kind: str, address: str, n: int) -> ClientConnection | None:
        cp = f"{self.args.hostile_prefix}{n}"
        try:
            ws = await connect(
                f"{self.ws}/{cp}",
                subprotocols=OCPP16,
                additional_headers=basic(cp, f"{self.args.hostile_password}{n}"),
                local_addr=(address, 0),
                open_timeout=60,
                max_size=None,
            )
        except websockets.InvalidStatus as exc:
            note(kind, f"handshake {exc.response.status_code}")
            return None
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            note(kind, f"handshake {type(exc).__name__}")
            return None
        return ws

    async def as_charger(
        self,
        kind: str,
        address: str,
        n: int,
        work: Callable[[ClientConnection], Awaitable[None]],
        pause: float,
    ) -> None:
        """Charger <hostile-prefix>n logged in with its own password, doing `work` until the
        server closes the socket; then again after `pause` seconds."""
        while True:
            ws = await self.logged_in(kind, address, n)
            if ws is None:
                await asyncio.sleep(1)
                continue
            try:
                await work(ws)
            except websockets.ConnectionClosed as exc:
                note(kind, f"close {exc.rcvd.code if exc.rcvd else 'none'}")
            await ws.close()
            await asyncio.sleep(pause)

    async def flood(self, address: str, n: int) -> None:
        """A charger of the hostile operator sending Heartbeats without waiting for answers
        until it is closed (1008); then reconnecting at once (429 while its budget is spent,
        then a second later) and flooding again."""

        async def work(ws: ClientConnection) -> None:
            # Twice the server's default burst at once, then as fast as answers come.
            for m in range(400):
                await ws.send(f'[2,"f{m}","Heartbeat",{{}}]')
            try:
                async with asyncio.timeout(30):
                    for m in range(400, 10**9):
                        await ws.recv()
                        await ws.send(f'[2,"f{m}","Heartbeat",{{}}]')
            except TimeoutError:
                note("flood", "not cut within 30 s")

        await self.as_charger("flood", address, n, work, 0)

    async def garbage(self, address: str, n: int) -> None:
        """A charger of the hostile operator sending what no charger should: frames that are
        not OCPP, strings no database column takes, meter readings no meter makes, a frame
        over the size limit; and flipping its status so that its operator's webhook (the
        trickling receiver) gets events. Slow enough to stay within its message budget."""

        async def work(ws: ClientConnection) -> None:
            await ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
            while True:
                await ws.send(random.choice(GARBAGE)())
                await self.answers(ws, 0.25)

        await self.as_charger("garbage", address, n, work, 1)

    async def answers(self, ws: ClientConnection, seconds: float) -> None:
        """Reads what comes for `seconds`: answers are noted, the server's own CALLs get a
        CALLERROR full of bad text."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                return
            try:
                frame = json.loads(raw)
            except ValueError:
                note("garbage", "not JSON from the server")
                continue
            if frame[0] == 2:
                error = [4, frame[1], f"Generic{BAD_TEXT}", f"no{BAD_TEXT}" * 200, {}]
                await ws.send(json.dumps(error))
            elif frame[0] == 3:
                note("garbage", "CALLRESULT")
            elif frame[0] == 4:
                note("garbage", f"CALLERROR {frame[2]}")

    # -- the webhook receiver --------------------------------------------------------------

    async def trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Reads a POST, then answers a status line and one header byte every half second, for
        as long as the sender listens."""
        began = time.monotonic()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode().split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            await reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return

        async def answer() -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(1200):
                await writer.drain()
                await asyncio.sleep(0.5)
                writer.write(b"x")

        answering = asyncio.create_task(answer())
        # The sender hanging up (end of stream) ends the exchange; so does the end of the run.
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await reader.read()
        webhook_posts.append(time.monotonic() - began)
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await answering
        writer.close()


BOOT = {"chargePointVendor": "hostile", "chargePointModel": "bench/hostile.py"}


def call(action: str, payload: str) -> str:
    return f'[2,"{uuid.uuid4()}","{action}",{payload}]'


def meter(value: str, extra: str = "") -> str:
    return call(
        "MeterValues",
        f'{{"connectorId":1,"meterValue":[{{"timestamp":"{at()}",'
        f'"sampledValue":[{{"value":{value}{extra}}}]}}]}}',
    )


def status(value: str, info: str = "") -> str:
    payload = {"connectorId": 1, "errorCode": "NoError", "status": value, "timestamp": at()}
    return call("StatusNotification", json.dumps({**payload, "info": info, "vendorId": info}))


GARBAGE: list[Callable[[], str | bytes]] = [
    lambda: "this is not JSON",
    lambda: "[2,",
    lambda: b"\x00\xff\xfe binary",
    lambda: "[7, 1, 2]",
    lambda: '[2, 5, "Heartbeat", {}]',
    lambda: call("Heartbeat", "[]"),
    lambda: call("NoSuchAction", "{}"),
    lambda: "[" * 5000 + "]" * 5000,
    lambda: call("Heartbeat", '{"pad":"' + "x" * 70_000 + '"}'),
    lambda: status(random.choice(["Available", "Unavailable"]), BAD_TEXT),
    lambda: status(random.choice(["Available", "Unavailable"])),
    lambda: call("DataTransfer", json.dumps({"vendorId": BAD_TEXT, "data": BAD_TEXT * 100})),
    lambda: call("BootNotification", json.dumps({**BOOT, "chargePointVendor": "v" * 10_000})),
    lambda: meter('"NaN"'),
    lambda: meter('"1e999"'),
    lambda: meter("NaN"),
    lambda: meter(f'"{2**40}"'),
    lambda: meter('"10"', ',"multiplier":2147483647'),
    lambda: call(
        "MeterValues",
        f'{{"connectorId":{2**31},"meterValue":[{{"timestamp":"{at()}",'
        '"sampledValue":[{"value":"1"}]}]}',
    ),
    lambda: call(
        "StartTransaction",
        f'{{"connectorId":1,"idTag":"CARD","meterStart":{2**40},"timestamp":"{at()}"}}',
    ),
    lambda: call(
        "StartTransaction",
        json.dumps({"connectorId": 1, "idTag": BAD_TEXT, "meterStart": 0, "timestamp": at()}),
    ),
    lambda: call(
        "StopTransaction",
        f'{{"transactionId":{random.randint(1, 2**31 - 1)},"meterStop":2147483647,'
        f'"timestamp":"{at()}","idTag":{json.dumps(BAD_TEXT)}}}',
    ),
]


# What each kind does, for the report.
WHAT = {
    "bad_keys": "GET with guessed, malformed or no API keys, half naming a made-up client in"
    " X-Forwarded-For",
    "slowloris": "sockets left idle or sending headers a byte every 2 s (API and WebSocket"
    " upgrades), 30 per actor and 520 for the first (beyond the 500 per address)",
    "wrong_password": "handshakes as well-behaved chargers (connected at the time) with guessed"
    " passwords",
    "unknown_id": "handshakes with ids no charger has, ids OCPP does not allow, a known id"
    " without credentials",
    "flood": "a logged-in charger sending 400 Heartbeats at once, then one per answer until cut;"
    " reconnecting at once",
    "garbage": "a logged-in charger sending non-JSON, non-OCPP frames, lone surrogates and NULs,"
    " NaN/1e999/2^40 meter values, a 2^31 connector, a 70 KB frame; flipping its status (webhook"
    " events)",
    "api_bounds": "the hostile operator's key: forged cursors, bad and foreign ids, `limit: 0`"
    " lists, a 100 KB body, bodies that are not JSON",
    "auto_register": "handshakes with new ids and the (leaked) bootstrap secret",
}


async def supervised(
    kind: str, actor: Callable[[str, int], Awaitable[None]], address: str, n: int
) -> None:
    """An actor that fails (our own bug, or an answer it did not expect) is noted and started
    again: the attack goes on for the whole phase."""
    while True:
        try:
            await actor(address, n)
        except Exception as exc:
            note(kind, f"actor error {type(exc).__name__}")
            await asyncio.sleep(1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in (
        "key",
        "hostile-prefix",
        "hostile-password",
        "good-prefix",
        "auto-secret",
        "own-port",
        "foreign-port",
    ):
        parser.add_argument(f"--{name}", required=True)
    for name in ("port", "actors", "good-count", "webhook-port"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--kinds", default="", help="comma-separated; default: all")
    args = parser.parse_args()
    actors = Actors(args)
    receiver = await asyncio.start_server(actors.trickle, "127.0.0.1", args.webhook_port)
    kinds: dict[str, Callable[[str, int], Awaitable[None]]] = {
        "bad_keys": lambda a, n: actors.bad_keys(a),
        # The first slow actor goes beyond the bound on sockets per address.
        "slowloris": lambda a, n: actors.slowloris(
            a, 520 if n == chosen.index("slowloris") else 30
        ),
        "wrong_password": lambda a, n: actors.wrong_password(a),
        "unknown_id": lambda a, n: actors.unknown_id(a),
        "flood": actors.flood,
        "garbage": actors.garbage,
        "api_bounds": lambda a, n: actors.api_bounds(a),
        "auto_register": lambda a, n: actors.auto_register(a),
    }
    chosen = args.kinds.split(",") if args.kinds else list(kinds)
    if unknown := set(chosen) - set(kinds):
        parser.error(f"unknown --kinds {sorted(unknown)}; known: {', '.join(kinds)}")
    counts: Counter[str] = Counter()
    tasks = []
    for n in range(args.actors):
        kind = chosen[n % len(chosen)]
        counts[kind] += 1
        actor = supervised(kind, kinds[kind], f"127.2.0.{n + 1}", n)
        tasks.append(asyncio.create_task(actor))
    await asyncio.sleep(args.seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    receiver.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiver.wait_closed(), 5)
    report = {
        "what": {kind: WHAT[kind] for kind in chosen},
        "actors": counts,
        "outcomes": tally,
        "slow_sockets_held_s": sorted(held_s),
        "webhook_posts_held_s": sorted(webhook_posts),
        "cpu_s": time.process_time(),
    }
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
