"""Security: API keys (SHA-256 at rest, one 401 for every bad key, revocation, old scrypt keys),
rate limits on API keys and on failed attempts per address, the request body limit, TLS for the
API and for chargers (OCPP security profile 2), and the limits on charger handshakes.
Real server processes on 127.0.0.1, real sockets, real TLS.

The WebSocket frame size limit and the per-charger message rate are tested in
test_charger_robustness.py (test_oversized_frame_closes_only_that_socket,
test_flood_closes_the_flooder_only).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select
from websockets.asyncio.client import connect

from chargegate.domain import credentials
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade
from chargegate.store.models import ApiKey
from support import Server, TlsServer, assert_error, basic, eventually, metric

UNAUTHORIZED = "Incorrect credentials: send a valid API key in the x-api-key header"
SLOW_API_KEY_CHECKS = 'chargegate_slow_checks_total{what="api_key"}'
SLOW_CHARGER_PASSWORD_CHECKS = 'chargegate_slow_checks_total{what="charger_password"}'

# A key may send 5 requests at once, then 1 per second; bodies over 1 KiB are refused.
API_BURST, API_RATE, MAX_BODY = 5, 1, 1024
API_LIMITS = {
    "CHARGEGATE_API_BURST": str(API_BURST),
    "CHARGEGATE_API_RATE_PER_S": str(API_RATE),
    "CHARGEGATE_API_MAX_BODY_BYTES": str(MAX_BODY),
}


async def started(tmp_path: Path, env: dict[str, str]) -> Server:
    server = Server(workdir=tmp_path, extra_env=env)
    await upgrade(server.database_url)
    server.start()
    return server


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with Server(workdir=tmp_path_factory.mktemp("api"), extra_env=API_LIMITS).running() as server:
        yield server


async def stored_hash(server: Server, lookup: str) -> str:
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session:
            key_hash = await session.scalar(select(ApiKey.key_hash).where(ApiKey.lookup == lookup))
    finally:
        await engine.dispose()
    assert key_hash is not None
    return key_hash


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargegate", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def refused(url: str, **options: Any) -> websockets.InvalidStatus:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with connect(url, **{"open_timeout": 10, **options}):
            pass
    return info.value


# -- API keys -------------------------------------------------------------------------------------


async def test_keys_are_stored_as_sha256_and_scoped_to_their_operator(api_server: Server) -> None:
    acme, other = await api_server.operator(), await api_server.operator()
    mine, theirs = await acme.add_charger(), await other.add_charger()
    lookup = credentials.api_key_lookup(acme.key)
    assert lookup is not None
    stored = await stored_hash(api_server, lookup)
    assert stored == hashlib.sha256(acme.key.encode()).hexdigest(), stored
    # The secret is everything after "cg_<lookup>_" (itself url-safe base64, so it may hold "_").
    secret = acme.key.split("_", 2)[2]
    assert len(secret) >= 40 and secret not in stored
    async with acme.client() as client:
        ports = (await client.get("/ports")).json()
    assert {p["port_uuid"] for p in ports} == set(mine.port_uuids)
    assert theirs.port not in {p["port_uuid"] for p in ports}


async def test_every_bad_key_gets_the_same_401_and_no_slow_check(api_server: Server) -> None:
    """Every key is checked with SHA-256 and a constant-time comparison (an unknown id against a
    digest no key has), so no bad key costs scrypt; only a key still stored with scrypt does."""
    op = await api_server.operator()
    lookup = credentials.api_key_lookup(op.key)
    revoked = await api_server.operator()
    assert cli(api_server, "apikey", "revoke", revoked.key).returncode == 0
    old_key = await op.add_scrypt_key()
    bad = {
        "malformed": "not-a-key",
        "unknown id": f"cg_{uuid.uuid4().hex[:16]}_{'A' * 43}",
        "wrong secret": f"cg_{lookup}_{'A' * 43}",
        "revoked": revoked.key,
    }
    async with httpx.AsyncClient(base_url=api_server.api, timeout=10) as client:
        before = await metric(api_server, SLOW_API_KEY_CHECKS)
        wrong_old = await client.get("/ports", headers={"x-api-key": old_key[:-1] + "x"})
        assert assert_error(wrong_old, 401) == UNAUTHORIZED
        assert await metric(api_server, SLOW_API_KEY_CHECKS) == before + 1
        for name, key in bad.items():
            response = await client.get("/ports", headers={"x-api-key": key})
            assert assert_error(response, 401) == UNAUTHORIZED, name
        assert await metric(api_server, SLOW_API_KEY_CHECKS) == before + 1


async def test_keys_stored_with_scrypt_still_work_and_move_to_sha256(api_server: Server) -> None:
    """Keys from before migration 0003 were stored as SHA-256, the form every key has now; keys
    from 0003 until now were stored with scrypt, and move to SHA-256 when first used."""
    op = await api_server.operator()
    old_key = await op.add_scrypt_key()
    lookup = credentials.api_key_lookup(old_key)
    assert lookup is not None
    wrong = {"x-api-key": old_key[:-1] + ("x" if old_key[-1] != "x" else "y")}
    async with httpx.AsyncClient(base_url=api_server.api, timeout=10) as client:
        assert assert_error(await client.get("/ports", headers=wrong), 401) == UNAUTHORIZED
        assert (await stored_hash(api_server, lookup)).startswith("scrypt$")
        assert (await client.get("/ports", headers={"x-api-key": old_key})).status_code == 200
        assert await stored_hash(api_server, lookup) == hashlib.sha256(old_key.encode()).hexdigest()
        checks = await metric(api_server, SLOW_API_KEY_CHECKS)
        assert (await client.get("/ports", headers={"x-api-key": old_key})).status_code == 200
        assert assert_error(await client.get("/ports", headers=wrong), 401) == UNAUTHORIZED
        assert await metric(api_server, SLOW_API_KEY_CHECKS) == checks
    log = api_server.log()
    assert "API key moved from scrypt to the fast hash" in log and old_key not in log


async def test_revoked_key_is_refused_within_the_recheck_and_listed(api_server: Server) -> None:
    op = await api_server.operator()
    kept = await api_server.operator(op.name)
    lookup = credentials.api_key_lookup(op.key)
    assert lookup is not None
    async with op.client() as client:
        # Twice: the second answer comes from this node's memory of verified keys.
        assert (await client.get("/ports")).status_code == 200
        assert (await client.get("/ports")).status_code == 200
        revoked = cli(api_server, "apikey", "revoke", lookup)
        assert revoked.returncode == 0, revoked.stderr

        async def refused() -> bool:
            return (await client.get("/ports")).status_code == 401

        # Within CHARGEGATE_API_KEY_RECHECK_S (1 s by default), and then for good.
        await eventually(refused, timeout=15)
        assert assert_error(await client.get("/ports"), 401) == UNAUTHORIZED
    async with kept.client() as client:
        assert (await client.get("/ports")).status_code == 200

    again = cli(api_server, "apikey", "revoke", op.key)
    assert again.returncode == 0 and "already revoked" in again.stdout, again.stdout
    unknown = cli(api_server, "apikey", "revoke", f"cg_{'f' * 16}_{'B' * 43}")
    assert unknown.returncode == 1 and "B" * 43 not in unknown.stderr + unknown.stdout

    listed = cli(api_server, "apikey", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()[1:]}
    assert rows[lookup][1] == op.name and rows[lookup][3] != "-"
    kept_lookup = credentials.api_key_lookup(kept.key)
    assert rows[kept_lookup][1] == op.name and rows[kept_lookup][3] == "-"
    assert "scrypt" not in listed.stdout
    assert op.key not in listed.stdout and kept.key not in listed.stdout


async def test_each_key_has_its_own_rate_limit(api_server: Server) -> None:
    busy, calm = await api_server.operator(), await api_server.operator()
    async with busy.client() as client:
        answers = [await client.get("/ports") for _ in range(API_BURST + 1)]
        assert [a.status_code for a in answers[:API_BURST]] == [200] * API_BURST
        limited = answers[-1]
        assert "API key" in assert_error(limited, 429)
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 1 / API_RATE + 1, retry_after
        async with calm.client() as other:
            assert (await other.get("/ports")).status_code == 200
        await asyncio.sleep(retry_after)
        assert (await client.get("/ports")).status_code == 200


async def test_request_body_over_the_limit_is_413(api_server: Server) -> None:
    op = await api_server.operator()
    big = json.dumps({"port_uuid": str(uuid.uuid4()), "invoice_id": "x" * (2 * MAX_BODY)})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 256):
            yield big[start : start + 256].encode()

    async with op.client() as client:
        declared = await client.post(
            "/transactions", content=big, headers={"content-type": "application/json"}
        )
        assert "too large" in assert_error(declared, 413)
        # No Content-Length: the body is counted as it streams in.
        streamed = await client.post(
            "/transactions", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.request.headers.get("transfer-encoding") == "chunked"
        assert "too large" in assert_error(streamed, 413)
        small = await client.post("/transactions", json={"port_uuid": str(uuid.uuid4())})
        assert small.status_code == 400, small.text


async def test_failed_attempts_are_limited_per_address(tmp_path: Path) -> None:
    failures = 4
    server = await started(tmp_path, {"CHARGEGATE_API_AUTH_FAILURES": str(failures)})
    try:
        known, unused = await server.operator(), await server.operator()
        lookup = credentials.api_key_lookup(known.key)
        guesses = [f"cg_{lookup}_{n:043d}" for n in range(failures + 1)]
        async with httpx.AsyncClient(base_url=server.api, timeout=10) as client:
            assert (await client.get("/ports", headers=known.headers)).status_code == 200
            answers = [await client.get("/ports", headers={"x-api-key": g}) for g in guesses]
            refused = [a for a in answers if a.status_code == 401]
            assert len(refused) == failures, [a.status_code for a in answers]
            for answer in answers[len(refused) :]:
                assert "invalid API keys" in assert_error(answer, 429)
                assert int(answer.headers["retry-after"]) >= 1
            assert_error(await client.get("/ports"), 429)
            # A key already verified on this node still gets in from the same address; one not
            # yet verified here waits like the guesses.
            assert (await client.get("/ports", headers=known.headers)).status_code == 200
            assert_error(await client.get("/ports", headers=unused.headers), 429)
        log = server.log()
        assert log.count("API key refused") == failures
        assert all(guess not in log for guess in guesses)
    finally:
        server.stop()


# -- TLS (OCPP security profile 2) ----------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs `openssl` to make a test certificate (cryptography is not installed)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    options = "-x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", *options.split(), *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    cert, key = self_signed(tmp_path)
    server = TlsServer(
        workdir=tmp_path, extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]
    )
    server.trust = ssl.create_default_context(cafile=str(cert))
    with server.running():
        yield server


async def test_chargers_and_api_over_tls(tls_server: TlsServer) -> None:
    op = await tls_server.operator()
    charger = await op.add_charger(password="profile-2-secret")
    url = f"{tls_server.ws_url}/{charger.charge_point_id}"
    options: dict[str, Any] = {"ssl": tls_server.trust, "subprotocols": ["ocpp1.6"]}
    async with connect(
        url, additional_headers=basic(charger.charge_point_id, "profile-2-secret"), **options
    ) as ws:
        boot = {"chargePointVendor": "Test", "chargePointModel": "TLS"}
        await ws.send(json.dumps([2, "boot-1", "BootNotification", boot]))
        answer = json.loads(await ws.recv())
        assert answer[:2] == [3, "boot-1"] and answer[2]["status"] == "Accepted", answer

    wrong = await refused(
        url, additional_headers=basic(charger.charge_point_id, "not-it"), **options
    )
    assert wrong.response.status_code == 403
    plain = f"ws://127.0.0.1:{tls_server.port}/ocpp/{charger.charge_point_id}"
    with pytest.raises((websockets.InvalidHandshake, OSError, EOFError)):
        async with connect(plain, open_timeout=5, subprotocols=["ocpp1.6"]):
            pass

    async with httpx.AsyncClient(verify=tls_server.trust, timeout=10) as client:
        ports = await client.get(f"{tls_server.api}/ports", headers=op.headers)
        assert ports.status_code == 200 and ports.json()[0]["port_uuid"] == charger.port
    async with httpx.AsyncClient(timeout=5) as untrusting:
        with pytest.raises(httpx.ConnectError):
            # Without trusting our certificate the client refuses: TLS is really in the way.
            await untrusting.get(f"{tls_server.api}/ports", headers=op.headers)
    assert "profile-2-secret" not in tls_server.log() and "not-it" not in tls_server.log()


def test_tls_needs_both_certificate_and_key(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    server = Server(workdir=tmp_path)
    half = cli(server, "serve", "--port", str(server.port), "--tls-cert", str(cert))
    assert half.returncode == 2 and "--tls-key" in half.stderr, half.stderr
    missing = cli(
        server, "serve", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "no")
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr


# -- charger handshakes ---------------------------------------------------------------------------


@asynccontextmanager
async def three_failures_allowed(tmp_path: Path) -> AsyncIterator[tuple[Server, str, str]]:
    """A server allowing 3 failed handshakes per address and one charger whose password is
    "right-password": the server, the charger's id and its URL."""
    server = await started(tmp_path, {"CHARGEGATE_CHARGER_HANDSHAKE_FAILURES": "3"})
    try:
        charger = await (await server.operator()).add_charger(password="right-password")
        yield server, charger.charge_point_id, f"{server.ws_url}/{charger.charge_point_id}"
    finally:
        server.stop()


async def test_failed_handshakes_are_logged_and_limited_per_address(tmp_path: Path) -> None:
    async with three_failures_allowed(tmp_path) as (server, cp_id, url):
        good = {"subprotocols": ["ocpp1.6"], **_auth(cp_id, "right-password")}
        async with connect(url, **good):
            pass
        unknown = await refused(f"{server.ws_url}/CP-nobody", **good)
        wrong = await refused(url, subprotocols=["ocpp1.6"], **_auth(cp_id, "wrong-password"))
        no_subprotocol = await refused(url, **_auth(cp_id, "right-password"))
        assert [r.response.status_code for r in (unknown, wrong, no_subprotocol)] == [403] * 3
        # Now even the right password is not checked from this address for a while.
        limited = await refused(url, **good)
        assert limited.response.status_code == 429
        assert int(limited.response.headers["Retry-After"]) >= 1
        assert b"Too many failed handshakes" in limited.response.body

        refusals = [
            json.loads(line)
            for line in server.log().splitlines()
            if line.startswith("{") and "refused charger:" in line
        ]
        assert len(refusals) == 3, refusals
        assert {r["client"] for r in refusals} == {"127.0.0.1"}
        assert {r["charge_point_id"] for r in refusals} == {"CP-nobody", cp_id}
        assert "wrong-password" not in server.log() and "right-password" not in server.log()


def _auth(user: str, password: str) -> dict[str, Any]:
    return {"additional_headers": basic(user, password)}


async def test_wrong_passwords_sent_at_once_get_no_more_checks_than_the_address_has_failures(
    tmp_path: Path,
) -> None:
    """Failed handshakes are spent before the password check, so 40 wrong passwords sent at
    once from one address run scrypt only as often as the address may fail (3), and the rest
    are refused with 429 before any check."""
    async with three_failures_allowed(tmp_path) as (server, cp_id, url):
        wrong = {"subprotocols": ["ocpp1.6"], **_auth(cp_id, "wrong-password")}
        checks_before = await metric(server, SLOW_CHARGER_PASSWORD_CHECKS)
        refusals = await asyncio.gather(*(refused(url, **wrong) for _ in range(40)))
        statuses = sorted(r.response.status_code for r in refusals)
        assert statuses == [403] * 3 + [429] * 37, statuses
        assert await metric(server, SLOW_CHARGER_PASSWORD_CHECKS) - checks_before == 3


async def test_handshakes_under_way_are_capped_per_address(tmp_path: Path) -> None:
    """Each charger's first handshake runs scrypt (tens of ms), so many at once overlap."""
    server = await started(tmp_path, {"CHARGEGATE_CHARGER_HANDSHAKES_PER_IP": "2"})
    try:
        op = await server.operator()
        chargers = [await op.add_charger(password=f"pw-{n}") for n in range(12)]

        async def handshake(n: int) -> int:
            cp_id = chargers[n].charge_point_id
            try:
                async with connect(
                    f"{server.ws_url}/{cp_id}", subprotocols=["ocpp1.6"], **_auth(cp_id, f"pw-{n}")
                ):
                    return 101
            except websockets.InvalidStatus as exc:
                return int(exc.response.status_code)

        statuses = await asyncio.gather(*(handshake(n) for n in range(len(chargers))))
        assert set(statuses) == {101, 429}, statuses
        # A cap on handshakes at once, not a ban: later ones get in.
        assert await handshake(statuses.index(429)) == 101
        assert "too many handshakes under way" in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("recheck_s", ["0", "3600"])
async def test_a_node_takes_a_key_it_read_as_it_was_for_the_recheck_time(
    tmp_path: Path, recheck_s: str
) -> None:
    """A key a node has read is not read again for CHARGEGATE_API_KEY_RECHECK_S: so a revocation
    within that time is not seen yet (and a busy key costs no query per request); 0 reads the
    key on every request, and the revocation applies at once."""
    server = await started(tmp_path, {"CHARGEGATE_API_KEY_RECHECK_S": recheck_s})
    try:
        op = await server.operator()
        async with op.client() as client:
            assert (await client.get("/ports")).status_code == 200
            assert (await client.get("/ports")).status_code == 200
            assert cli(server, "apikey", "revoke", op.key).returncode == 0
            expected = 401 if recheck_s == "0" else 200
            assert (await client.get("/ports")).status_code == expected
    finally:
        server.stop()
