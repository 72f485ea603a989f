"""Who may connect as a charger (issue 12, point 3): credentials by default, passwordless only
when asked for by name, auto-registration by bootstrap secret, ids that timing does not give
away, and TLS client certificates bound to the charger's id (OCPP security profile 3).
Real server processes, real sockets, real TLS with certificates made by `openssl`.
"""

from __future__ import annotations

import asyncio
import base64
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
from websockets.asyncio.client import connect

from chargegate import provisioning
from chargegate.domain.times import utcnow
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store.database import create_engine, session_factory
from chargegate.store.migrate import upgrade
from support import Server, TlsServer, metric

PASSWORD_CHECKS = 'chargegate_slow_checks_total{what="charger_password"}'
BOOTSTRAP_SECRET = "fleet-bootstrap-secret-0123"
OCPP = {"subprotocols": ["ocpp1.6"], "open_timeout": 10}
BOOT = {"chargePointVendor": "Test", "chargePointModel": "Credentials"}


def basic(user: str, password: str) -> dict[str, Any]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"additional_headers": {"Authorization": f"Basic {token}"}}


async def handshake(url: str, **options: Any) -> int:
    """101 when the charger got in (and its boot was accepted), else the HTTP status."""
    try:
        async with connect(url, **{**OCPP, **options}) as ws:
            await ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
            answer = json.loads(await ws.recv())
            assert answer[:2] == [3, "boot"] and answer[2]["status"] == "Accepted", answer
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargegate", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@asynccontextmanager
async def running(server: Server) -> AsyncIterator[Server]:
    """Migrated and started from inside a test's event loop; stopped afterwards."""
    await upgrade(server.database_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[Server]:
    with Server(workdir=tmp_path).running() as server:
        yield server


# -- passwords ------------------------------------------------------------------------------------


async def test_an_unknown_id_costs_the_same_slow_check_as_a_wrong_password(
    plain_server: Server,
) -> None:
    """An unknown id used to be refused before any scrypt check, a known one after it: the
    difference in time told which ids exist. Counted, not timed: one check each."""
    op = await plain_server.operator()
    charger = await op.add_charger(password="right-password")
    known = f"{plain_server.ws_url}/{charger.charge_point_id}"
    unknown_id = f"CP-nobody-{uuid.uuid4().hex[:6]}"
    unknown = f"{plain_server.ws_url}/{unknown_id}"

    async def checks_for(url: str, **options: Any) -> float:
        before = await metric(plain_server, PASSWORD_CHECKS)
        assert await handshake(url, **options) == 403
        return await metric(plain_server, PASSWORD_CHECKS) - before

    assert await checks_for(known, **basic(charger.charge_point_id, "wrong-password")) == 1
    assert await checks_for(unknown, **basic(unknown_id, "wrong-password")) == 1
    # No password sent: no check, known id or not.
    assert await checks_for(known) == 0
    assert await checks_for(unknown) == 0


async def test_guessing_the_password_of_a_charger_seen_here_costs_no_check(
    plain_server: Server,
) -> None:
    """A charger's id is printed on it: once it has connected, guesses of its password used to
    cost a scrypt check each, so that guessers spent the node's CPU. Its password is known
    then, and a wrong one is refused without a check; the right one is still admitted."""
    op = await plain_server.operator()
    charger = await op.add_charger(password="right-password")
    cp_id = charger.charge_point_id
    url = f"{plain_server.ws_url}/{cp_id}"
    assert await handshake(url, **basic(cp_id, "right-password")) == 101
    before = await metric(plain_server, PASSWORD_CHECKS)
    for guess in ("wrong-password", "right-passwor", ""):
        assert await handshake(url, **basic(cp_id, guess)) == 403
    assert await handshake(url, **basic(cp_id, "right-password")) == 101
    assert await metric(plain_server, PASSWORD_CHECKS) - before == 0


async def stored_hash(server: Server, cp_id: str) -> str | None:
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session:
            charger = await charger_store.get_charger(session, cp_id)
            assert charger is not None
            return charger.password_hash
    finally:
        await engine.dispose()


async def test_a_generated_password_is_stored_fast_and_checked_without_scrypt(
    plain_server: Server,
) -> None:
    """Every handshake used to cost a scrypt check, so 20,000 chargers reconnecting after a
    restart needed over 1,000 CPU-seconds. A generated password is 192 random bits, stored as
    SHA-256 and checked without the scrypt pool; a chosen one stays scrypt. Which check runs
    follows from the password sent alone, so neither tells which ids exist. Counted, not timed."""
    op = await plain_server.operator()
    generated_id, chosen_id = (f"CP-{uuid.uuid4().hex[:8]}" for _ in range(2))
    added = await provisioning.add_charger(plain_server.settings, generated_id, op.name, 1, None)
    password = added["password"]
    assert password.startswith("cgp-") and len(password) <= 40, password
    assert password.removeprefix("cgp-").replace("-", "").replace("_", "").isalnum()
    generated_hash = await stored_hash(plain_server, generated_id)
    assert generated_hash is not None and generated_hash.startswith("sha256$")
    assert password not in generated_hash
    await op.add_charger(password="chosen-password", cp_id=chosen_id)
    chosen_hash = await stored_hash(plain_server, chosen_id)
    assert chosen_hash is not None and chosen_hash.startswith("scrypt$")
    unknown_id = f"CP-nobody-{uuid.uuid4().hex[:6]}"
    a_guess = "cgp-" + "A" * 32

    async def checks_for(cp_id: str, sent: str, status: int) -> float:
        before = await metric(plain_server, PASSWORD_CHECKS)
        assert await handshake(f"{plain_server.ws_url}/{cp_id}", **basic(cp_id, sent)) == status
        return await metric(plain_server, PASSWORD_CHECKS) - before

    assert await checks_for(generated_id, password, 101) == 0
    # A wrong password of the generated form: no scrypt, known id, scrypt row or unknown id.
    assert await checks_for(generated_id, a_guess, 403) == 0
    assert await checks_for(chosen_id, a_guess, 403) == 0
    assert await checks_for(unknown_id, a_guess, 403) == 0
    # Any other password: one scrypt check, whichever row (or none) it meets.
    assert await checks_for(generated_id, "chosen-password", 403) == 1
    assert await checks_for(unknown_id, "chosen-password", 403) == 1
    assert await checks_for(chosen_id, "chosen-password", 101) == 1
    assert await checks_for(generated_id, password, 101) == 0


async def test_a_charger_gets_a_password_unless_passwordless_is_asked_for(tmp_path: Path) -> None:
    """A charger added without a password used to be open to anyone who knew its id. Now it
    gets a generated one; only one added with the explicit opt-out is open, and the server
    says so at start-up and at each of its handshakes."""
    server = Server(workdir=tmp_path)
    async with running(server):
        op = await server.operator()
        secured_id = f"CP-{uuid.uuid4().hex[:8]}"
        added = await provisioning.add_charger(server.settings, secured_id, op.name, 1, None)
        password = added["password"]
        secured = f"{server.ws_url}/{secured_id}"
        assert await handshake(secured) == 403
        assert await handshake(secured, **basic(secured_id, "guess")) == 403
        assert await handshake(secured, **basic(secured_id, password)) == 101
        open_charger = await op.add_charger()  # tests/support.py: passwordless, by name
        assert "INSECURE" not in server.log()
        assert await handshake(f"{server.ws_url}/{open_charger.charge_point_id}") == 101
        assert "INSECURE: admitted charger registered without a password" in server.log()
    async with running(server):
        assert "INSECURE: 1 charger(s) registered without a password" in server.log()
    assert password not in server.log()


# -- auto-registration ----------------------------------------------------------------------------


def test_auto_registration_without_a_secret_must_be_asked_for_by_name(tmp_path: Path) -> None:
    server = Server(workdir=tmp_path)
    started = cli(server, "serve", "--port", "0", "--auto-register")
    assert started.returncode == 2, started.stderr
    assert "CHARGEGATE_AUTO_REGISTER_SECRET" in started.stderr, started.stderr
    short = Server(workdir=tmp_path, extra_env={"CHARGEGATE_AUTO_REGISTER_SECRET": "short"})
    started = cli(short, "serve", "--port", "0", "--auto-register")
    assert started.returncode == 2 and "at least 16" in started.stderr, started.stderr
    # Typed by people and stored as scrypt, so not in the form checked fast.
    generated_form = {"CHARGEGATE_AUTO_REGISTER_SECRET": "cgp-fleet-bootstrap-secret"}
    reserved = Server(workdir=tmp_path, extra_env=generated_form)
    started = cli(reserved, "serve", "--port", "0", "--auto-register")
    assert started.returncode == 2 and "may not start with 'cgp-'" in started.stderr, started.stderr


async def test_auto_registration_takes_the_bootstrap_secret(tmp_path: Path) -> None:
    """Auto-registered chargers used to be passwordless, and any id at all got registered."""
    env = {"CHARGEGATE_AUTO_REGISTER": "true", "CHARGEGATE_AUTO_REGISTER_SECRET": BOOTSTRAP_SECRET}
    async with running(Server(workdir=tmp_path, extra_env=env)) as server:
        cp_id = f"AUTO-{uuid.uuid4().hex[:8]}"
        url = f"{server.ws_url}/{cp_id}"
        before = await metric(server, PASSWORD_CHECKS)
        assert await handshake(url) == 403
        assert await handshake(url, **basic(cp_id, "not-the-secret")) == 403
        # The wrong secret costs what a wrong password does.
        assert await metric(server, PASSWORD_CHECKS) - before == 1
        assert "auto-registered charger" not in server.log()
        assert await handshake(url, **basic(cp_id, BOOTSTRAP_SECRET)) == 101
        assert server.log().count("auto-registered charger") == 1
        # Registered with the secret as its password, not without one.
        assert await handshake(url) == 403
        assert await handshake(url, **basic(cp_id, BOOTSTRAP_SECRET)) == 101
        assert BOOTSTRAP_SECRET not in server.log()


# -- TLS client certificates (security profile 3) -------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


class Pki:
    """A CA, a server certificate it signed (for 127.0.0.1) and client certificates by CN."""

    def __init__(self, directory: Path, name: str = "ca") -> None:
        if shutil.which("openssl") is None:
            pytest.skip("needs `openssl` to make test certificates")
        self.directory = directory
        self.ca, self.ca_key = directory / f"{name}.pem", directory / f"{name}.key"
        openssl(
            "req", "-x509", *EC_KEY, "-days", "1", "-subj", f"/CN=test {name}",
            "-keyout", str(self.ca_key), "-out", str(self.ca),
        )  # fmt: skip
        self.server_cert, self.server_key = self.issue("127.0.0.1", "subjectAltName=IP:127.0.0.1")

    def issue(self, common_name: str, extension: str = "") -> tuple[Path, Path]:
        stem = self.directory / f"{self.ca.stem}-{common_name}"
        cert, key, csr = (
            stem.with_suffix(".pem"),
            stem.with_suffix(".key"),
            stem.with_suffix(".csr"),
        )
        openssl(
            "req", *EC_KEY, "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(csr)
        )
        extra: list[str] = []
        if extension:
            extfile = stem.with_suffix(".ext")
            extfile.write_text(extension + "\n")
            extra = ["-extfile", str(extfile)]
        openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
            "-CAcreateserial", "-days", "1", "-out", str(cert), *extra,
        )  # fmt: skip
        return cert, key

    def client_context(self, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        return context


class ClientCaServer(TlsServer):
    """A server over TLS that takes client certificates signed by `pki`'s CA."""

    pki: Pki
    # What the readiness probe presents (needed when certificates are required).
    probe_cert: tuple[Path, Path] | None = None

    def trusted(self) -> ssl.SSLContext:
        return self.pki.client_context(self.probe_cert)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def client_ca_server(tmp_path: Path, pki: Pki, *flags: str) -> ClientCaServer:
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    server = ClientCaServer(
        workdir=tmp_path, extra_args=[*tls, "--tls-client-ca", str(pki.ca), *flags]
    )
    server.pki = pki
    return server


async def test_a_client_certificate_admits_only_the_charger_it_names(
    tmp_path: Path, pki: Pki
) -> None:
    async with running(client_ca_server(tmp_path, pki)) as server:
        op = await server.operator()
        cp_id, neighbour_id = (f"CP-{uuid.uuid4().hex[:8]}" for _ in range(2))
        # Registered the usual way: each has a generated password it need not use.
        added = await provisioning.add_charger(server.settings, cp_id, op.name, 1, None)
        await provisioning.add_charger(server.settings, neighbour_id, op.name, 1, None)
        own, neighbours = pki.issue(cp_id), pki.issue(neighbour_id)
        url = f"{server.ws_url}/{cp_id}"

        assert await handshake(url, ssl=pki.client_context(own)) == 101
        # A certificate speaks for the charger it names, and no other, password or not.
        assert await handshake(url, ssl=pki.client_context(neighbours)) == 403
        assert (
            await handshake(
                url, ssl=pki.client_context(neighbours), **basic(cp_id, added["password"])
            )
            == 403
        )
        assert "client certificate subject CN" in server.log()
        # Without a certificate, a password is needed as ever (profile 2 beside profile 3).
        assert await handshake(url, ssl=pki.client_context(None)) == 403
        assert (
            await handshake(url, ssl=pki.client_context(None), **basic(cp_id, added["password"]))
            == 101
        )
        # A certificate the configured CA did not sign ends the TLS handshake.
        rogue = Pki(tmp_path, "rogue")
        forged = rogue.issue(cp_id)
        context = pki.client_context(None)
        context.load_cert_chain(str(forged[0]), str(forged[1]))
        with pytest.raises((OSError, websockets.InvalidHandshake, EOFError)):
            await handshake(url, ssl=context)
        # An unknown id is not registered by a certificate.
        stranger = pki.issue("CP-stranger")
        assert (
            await handshake(f"{server.ws_url}/CP-stranger", ssl=pki.client_context(stranger)) == 403
        )
        # API clients send no certificate and are served as before.
        async with httpx.AsyncClient(verify=pki.client_context(None), timeout=10) as client:
            ports = await client.get(f"{server.api}/ports", headers=op.headers)
        assert ports.status_code == 200 and len(ports.json()) == 2


async def test_a_refused_upgrade_with_a_client_certificate_is_answered_cleanly(
    tmp_path: Path, pki: Pki
) -> None:
    """An upgrade uvicorn refuses itself (no Sec-WebSocket-Key: 400, never a 101) over TLS with
    a client certificate: there is no WebSocket scope to put the certificate's names in, so
    recording them raised AttributeError in the protocol. The client gets uvicorn's answer, the
    log no traceback, and the next charger with its certificate gets in."""
    async with running(client_ca_server(tmp_path, pki)) as server:
        op = await server.operator()
        cp_id = f"CP-{uuid.uuid4().hex[:8]}"
        await provisioning.add_charger(server.settings, cp_id, op.name, 1, None)
        own = pki.client_context(pki.issue(cp_id))
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=own, server_hostname="127.0.0.1"
        )
        writer.write(
            f"GET /ocpp/{cp_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n".encode()
        )
        async with asyncio.timeout(10):
            status_line = await reader.readline()
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 400"), status_line
        assert await handshake(f"{server.ws_url}/{cp_id}", ssl=own) == 101
        log = server.log()
        assert "AttributeError" not in log and "Traceback" not in log, log[-2000:]


async def add_legacy_charger(server: Server, operator_name: str, cp_id: str) -> None:
    """A charger as earlier versions registered one without a password: no hash at all."""
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            operator = await operator_store.get_or_create_operator(session, operator_name, utcnow())
            await charger_store.add_charger(
                session, charge_point_id=cp_id, operator_id=operator.id, password_hash=None,
                now=utcnow(),
            )  # fmt: skip
    finally:
        await engine.dispose()


async def test_a_charger_stored_without_a_password_needs_its_certificate(
    tmp_path: Path, pki: Pki
) -> None:
    """Rows from before credentials were required admitted anyone; now only a certificate."""
    async with running(client_ca_server(tmp_path, pki)) as server:
        op = await server.operator()
        cp_id = f"CP-{uuid.uuid4().hex[:8]}"
        await add_legacy_charger(server, op.name, cp_id)
        url = f"{server.ws_url}/{cp_id}"
        assert await handshake(url, ssl=pki.client_context(None)) == 403
        trust = pki.client_context(None)
        before = await metric(server, PASSWORD_CHECKS, trust)
        assert await handshake(url, ssl=pki.client_context(None), **basic(cp_id, "any")) == 403
        assert await metric(server, PASSWORD_CHECKS, trust) - before == 1
        assert await handshake(url, ssl=pki.client_context(pki.issue(cp_id))) == 101


async def test_client_certificates_can_be_required(tmp_path: Path, pki: Pki) -> None:
    server = client_ca_server(tmp_path, pki, "--tls-client-cert-required")
    holder = pki.issue("api-client")
    server.probe_cert = holder
    async with running(server):
        async with httpx.AsyncClient(verify=pki.client_context(None), timeout=10) as bare:
            with pytest.raises(httpx.TransportError):
                await bare.get(f"{server.base_url}/healthz")
        async with httpx.AsyncClient(verify=pki.client_context(holder), timeout=10) as client:
            assert (await client.get(f"{server.base_url}/healthz")).status_code == 200


def test_client_ca_needs_tls(tmp_path: Path, pki: Pki) -> None:
    server = Server(workdir=tmp_path)
    alone = cli(server, "serve", "--port", "0", "--tls-client-ca", str(pki.ca))
    assert alone.returncode == 2 and "needs --tls-cert" in alone.stderr, alone.stderr
