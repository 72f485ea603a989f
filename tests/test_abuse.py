"""Abuse that costs us work or sockets rather than data (issue 12, points 1 and 4): bad API keys
sent all at once, from one address and from many, and sockets that are opened and left idle or
half-sent. Real server processes; the "other addresses" are other loopback addresses
(127.0.0.0/8 all reach this machine), so each is a real peer address to the server.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from chargegate.domain import credentials
from support import Operator, Server, assert_error, eventually, metric
from test_charger_robustness import masked_text_frame

API_KEY_CHECKS = 'chargegate_slow_checks_total{what="api_key"}'
PASSWORD_CHECKS = 'chargegate_slow_checks_total{what="charger_password"}'
TRIES = 4
HEADER_TIMEOUT_S = 2.0
PER_ADDRESS = 5
# 127.0.0.1 is the trusted proxy here, as it is by default: bounded per node only.
PROXY = {"FORWARDED_ALLOW_IPS": "127.0.0.1"}
# Sockets held open on purpose must outlive the test, not meet the header deadline.
HELD = {"CHARGEGATE_HEADER_TIMEOUT_S": "300", **PROXY}


def guesses(key: str, count: int) -> list[str]:
    """Keys with the id (lookup) of `key` and a wrong secret each."""
    lookup = credentials.api_key_lookup(key)
    return [f"cg_{lookup}_{n:043d}" for n in range(count)]


def from_address(server: Server, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.api,
        timeout=60,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        limits=httpx.Limits(max_connections=100),
    )


@asynccontextmanager
async def charger_login(
    server: Server, cp_id: str, password: str, address: str
) -> AsyncIterator[ClientConnection]:
    token = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
    async with connect(
        f"{server.ws_url}/{cp_id}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers={"Authorization": f"Basic {token}"},
        local_addr=(address, 0),
        open_timeout=60,
    ) as ws:
        yield ws


async def heartbeat(ws: ClientConnection) -> None:
    await ws.send('[2, "hb", "Heartbeat", {}]')
    answer = await asyncio.wait_for(ws.recv(), 30)
    assert '"currentTime"' in str(answer), answer


# -- bad API keys ---------------------------------------------------------------------------------


@pytest.mark.server_env({"CHARGEGATE_API_AUTH_FAILURES": str(TRIES)})
async def test_bad_keys_sent_at_once_get_no_more_checks_than_the_address_has_tries(
    server: Server,
) -> None:
    """Each guess names a key still stored with scrypt, so each check would cost scrypt: all 40
    at once used to pass the limit (it was only spent after the check) and cost 40 runs."""
    op = await server.operator()
    old_key = await op.add_scrypt_key()
    checks_before = await metric(server, API_KEY_CHECKS)
    async with from_address(server, "127.0.0.3") as client:
        answers = await asyncio.gather(
            *(client.get("/ports", headers={"x-api-key": g}) for g in guesses(old_key, 40))
        )
    statuses = [a.status_code for a in answers]
    assert 1 <= statuses.count(401) <= TRIES, statuses
    assert statuses.count(429) == 40 - statuses.count(401), statuses
    for answer in answers:
        if answer.status_code == 429:
            assert "invalid API keys" in assert_error(answer, 429)
    checks = await metric(server, API_KEY_CHECKS) - checks_before
    assert checks == statuses.count(401), (checks, statuses)
    assert server.log().count("API key refused") == statuses.count(401)


async def test_charger_logins_do_not_wait_behind_api_key_checks(server: Server) -> None:
    """Bad keys from 40 addresses, each within its own limit, queue 40 scrypt checks. Charger
    password checks have threads of their own, so a charger logs in while most of them still
    wait; on a shared pool it waited behind them all."""
    op = await server.operator()
    old_key = await op.add_scrypt_key()
    charger = await op.add_charger(password="charger-password")
    clients = [from_address(server, f"127.0.1.{n}") for n in range(1, 41)]
    try:
        requests = [
            asyncio.create_task(client.get("/ports", headers={"x-api-key": guess}))
            for client, guess in zip(clients, guesses(old_key, 40), strict=True)
        ]
        # Checks are under way once the first answer is back; the rest are queued.
        await asyncio.wait(requests, return_when=asyncio.FIRST_COMPLETED)
        async with charger_login(
            server, charger.charge_point_id, "charger-password", "127.0.0.2"
        ) as ws:
            still_waiting = sum(not r.done() for r in requests)
            await heartbeat(ws)
        assert still_waiting >= 20, still_waiting
        answers = await asyncio.gather(*requests)
    finally:
        for client in clients:
            await client.aclose()
    assert {a.status_code for a in answers} == {401}
    assert await metric(server, API_KEY_CHECKS) == 40
    assert await metric(server, PASSWORD_CHECKS) == 1


async def test_charger_frames_are_not_compressed(server: Server) -> None:
    """permessage-deflate, accepted when a charger offered it, cost the node CPU on every frame
    both ways (a flooding charger's most of all) to save bytes on messages of a few hundred:
    declined now, as RFC 7692 lets a server do, and the charger talks uncompressed."""
    op = await server.operator()
    charger = await op.add_charger(password="charger-password")
    async with charger_login(
        server, charger.charge_point_id, "charger-password", "127.0.0.2"
    ) as ws:
        assert "permessage-deflate" in (ws.request.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        await heartbeat(ws)


# -- sockets --------------------------------------------------------------------------------------


async def open_socket(
    server: Server, address: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port, local_addr=(address, 0))


async def served(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether a whole request on this socket gets an HTTP answer (else it was closed on us)."""
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: chargegate\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(12), 30)
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        writer.close()
    return answer.startswith(b"HTTP/1.1 ")


async def closed_on_us(reader: asyncio.StreamReader, limit_s: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), limit_s) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.server_env({"CHARGEGATE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), **PROXY})
async def test_half_sent_headers_are_cut_off_while_chargers_connect(server: Server) -> None:
    op = await server.operator()
    early, late = await op.add_charger(password="early-pw"), await op.add_charger(password="pw")
    async with charger_login(server, early.charge_point_id, "early-pw", "127.0.0.2") as ws:
        opened = time.monotonic()
        slow = [await open_socket(server, "127.0.0.3") for _ in range(10)]
        for _, writer in slow[:5]:
            writer.write(b"GET /1.2/ports HTTP/1.1\r\nHost: chargegate\r\nx-api-key: cg_")
            await writer.drain()
        # Meanwhile a charger connects, from another address and from the same one.
        for address in ("127.0.0.4", "127.0.0.3"):
            async with charger_login(server, late.charge_point_id, "pw", address) as other:
                await heartbeat(other)
        cut = await asyncio.gather(*(closed_on_us(reader, 15) for reader, _ in slow))
        elapsed = time.monotonic() - opened
        assert cut == [True] * 10, cut
        assert elapsed >= HEADER_TIMEOUT_S, elapsed
        # A WebSocket is past its headers: the deadline never applies to it.
        await heartbeat(ws)
    for _, writer in slow:
        writer.close()
    dropped = 'chargegate_sockets_dropped_total{why="header_timeout"}'
    assert await metric(server, dropped) == 10


@pytest.mark.server_env({"CHARGEGATE_CONNECTIONS_PER_IP": str(PER_ADDRESS), **HELD})
async def test_sockets_beyond_the_bound_per_address_are_refused(server: Server) -> None:
    op = await server.operator()
    charger = await op.add_charger(password="pw")
    held = [await open_socket(server, "127.0.0.5") for _ in range(PER_ADDRESS)]
    assert not await served(*await open_socket(server, "127.0.0.5"))
    # Other addresses are not held up, and a proxy (here 127.0.0.1) is bounded per node only.
    async with charger_login(server, charger.charge_point_id, "pw", "127.0.0.6") as ws:
        await heartbeat(ws)
    async with op.client() as client:
        assert (await client.get("/ports")).status_code == 200
    proxied = [await open_socket(server, "127.0.0.1") for _ in range(PER_ADDRESS + 3)]
    assert all(await asyncio.gather(*(served(*s) for s in proxied)))
    # The sockets held were served all along, and once one closes the address may open another.
    assert await served(*held.pop())

    async def one_more_served() -> bool:
        return await served(*await open_socket(server, "127.0.0.5"))

    await eventually(one_more_served)
    for _, writer in held:
        writer.close()
    dropped = 'chargegate_sockets_dropped_total{why="address_full"}'
    assert await metric(server, dropped) >= 1


@pytest.mark.server_env({"CHARGEGATE_MAX_CONNECTIONS": "6", **HELD})
async def test_sockets_beyond_the_bound_per_node_are_refused(server: Server) -> None:
    held = [await open_socket(server, f"127.0.2.{n}") for n in range(1, 7)]
    assert not await served(*await open_socket(server, "127.0.2.7"))
    assert await served(*held.pop())

    async def one_more_served() -> bool:
        return await served(*await open_socket(server, "127.0.2.7"))

    await eventually(one_more_served)
    for _, writer in held:
        writer.close()
    assert await metric(server, 'chargegate_sockets_dropped_total{why="node_full"}') >= 1


async def test_a_client_gone_mid_body_is_no_server_error(op: Operator) -> None:
    """A client with a good key that announces a body, sends part of it and closes: nothing is
    done, and it is neither a 500 nor an error in the log."""
    server = op.server
    gone = (
        'chargegate_api_request_seconds_count{method="POST",route="/1.2/transactions",status="400"}'
    )
    before = await metric(server, gone)
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /1.2/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"x-api-key: {op.key}\r\nContent-Length: 100\r\n\r\n".encode()
        + b'{"po'
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async def answered() -> bool:
        return await metric(server, gone) > before

    await eventually(answered)
    assert "unhandled error" not in server.log()
    assert await metric(server, gone.replace('"400"', '"500"')) == 0


# -- one charger's burst --------------------------------------------------------------------------

# Three bursts stay within the default allowance (200 at once).
BURST_FRAMES = 60


async def raw_login(
    server: Server, cp_id: str, password: str, address: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A charger's socket past its 101, spoken to in bare frames."""
    reader, writer = await open_socket(server, address)
    token = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ocpp/{cp_id} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: Basic {token}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 101"), head
    # Its first call answered: the connection is set up on the server's side.
    writer.write(masked_text_frame('[2, "hb", "Heartbeat", {}]'))
    answer = await asyncio.wait_for(reader.read(65536), 30)
    assert b'"currentTime"' in answer, answer
    return reader, writer


async def answers_before_a_neighbours(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, neighbour: ClientConnection
) -> int:
    """Sends BURST_FRAMES Heartbeats in one write, then the neighbour's one: how many of the
    burst's answers had arrived when the neighbour's did."""
    received = bytearray()
    answered = 0

    async def count() -> None:
        nonlocal answered
        while answered < BURST_FRAMES:
            chunk = await reader.read(65536)
            assert chunk, "the burst's socket was closed"
            received.extend(chunk)
            answered = received.count(b'"currentTime"')

    counting = asyncio.create_task(count())
    burst = (masked_text_frame(f'[2, "f{n}", "Heartbeat", {{}}]') for n in range(BURST_FRAMES))
    writer.write(b"".join(burst))
    await writer.drain()
    await neighbour.send('[2, "n", "Heartbeat", {}]')
    await asyncio.wait_for(neighbour.recv(), 30)
    at_neighbours = answered
    await asyncio.wait_for(counting, 30)
    return at_neighbours


async def test_a_burst_from_one_charger_does_not_hold_up_another(server: Server) -> None:
    """Frames that arrive together on one socket used to be handled in one go (a Heartbeat waits
    on nothing), so every other socket of the node waited for the whole burst: within its burst
    allowance one charger could stall all others for as long as it liked, reconnect, and do it
    again. Each frame now gives the others their turn. A burst is sent three times: the
    neighbour must overtake it at least once (the test's own reading may lag on a loaded
    machine); before, its answer always came after the burst's last."""
    op = await server.operator()
    flooder = await op.add_charger(password="flooder-pw")
    neighbour = await op.add_charger(password="neighbour-pw")
    async with charger_login(server, neighbour.charge_point_id, "neighbour-pw", "127.0.0.8") as ws:
        await heartbeat(ws)
        reader, writer = await raw_login(server, flooder.charge_point_id, "flooder-pw", "127.0.0.9")
        try:
            counts = [await answers_before_a_neighbours(reader, writer, ws) for _ in range(3)]
        finally:
            writer.close()
    assert min(counts) < BURST_FRAMES // 2, counts
