"""The limits per client address behind the documented proxy: a real nginx on loopback, run with
the nginx configuration of docs/deploy.md (its upstream pointed at the test server, plain HTTP on
a free port instead of TLS), in front of a real server that trusts it (`FORWARDED_ALLOW_IPS`).

Clients reach nginx from distinct loopback addresses (127.0.0.2, 127.0.0.3, ...: all of 127/8 is
this host's on Linux), so each is a client of its own as nginx sees it. A client on 127.0.0.1,
the trusted proxy's own address, counts as a proxy in front of nginx: that is how the IPv6 tests
present client addresses that loopback cannot have, through the header nginx passes on.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from uvicorn.middleware.proxy_headers import _TrustedHosts
from websockets.asyncio.client import connect

from chargegate.listener import Proxies
from support import RawCharger, Server, assert_error, basic, free_port

DEPLOY_DOC = Path(__file__).parent.parent / "docs" / "deploy.md"
PROXY = "127.0.0.1"
HANDSHAKE_FAILURES = 20  # the default of CHARGEGATE_CHARGER_HANDSHAKE_FAILURES
API_FAILURES = 5
SERVER_ENV = {
    "FORWARDED_ALLOW_IPS": PROXY,
    "CHARGEGATE_API_AUTH_FAILURES": str(API_FAILURES),
    # Windows of an hour: no try comes back while a test runs, however slowly.
    "CHARGEGATE_API_AUTH_FAILURE_WINDOW_S": "3600",
    "CHARGEGATE_CHARGER_HANDSHAKE_FAILURES": str(HANDSHAKE_FAILURES),
    "CHARGEGATE_CHARGER_HANDSHAKE_FAILURE_WINDOW_S": "3600",
}
BOOT = {"chargePointVendor": "v", "chargePointModel": "m"}


def nginx_binary() -> str:
    # Debian puts it in /usr/sbin, which is not on a non-root user's PATH.
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip("needs nginx (`make test-tools` installs it as root on Debian)")
    return found


def documented_config(upstream_port: int, listen_port: int) -> str:
    """docs/deploy.md's nginx block, pointed at one test server and listening in plain HTTP."""
    doc = DEPLOY_DOC.read_text()
    found = re.search(r"```nginx\n(.*?)```", doc, re.DOTALL)
    assert found, "docs/deploy.md has no nginx block"
    block = found.group(1)
    block, upstreams = re.subn(
        r"upstream chargegate \{.*?\}",
        f"upstream chargegate {{ server 127.0.0.1:{upstream_port}; }}",
        block,
        flags=re.DOTALL,
    )
    block, listens = re.subn(r"listen 443 ssl;", f"listen 127.0.0.1:{listen_port};", block)
    block = re.sub(r"\n\s*ssl_certificate(_key)? [^;]*;", "", block)
    assert upstreams == 1 and listens == 1, "docs/deploy.md's nginx block changed shape"
    return block


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("proxied")
    with Server(workdir=workdir, extra_env=SERVER_ENV).running() as instance:
        yield instance


@pytest.fixture(scope="module")
def nginx(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx in front of the server; its base URL."""
    binary = nginx_binary()
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        # Workers as the user running the test: the default (nobody, when started as root)
        # could not enter the test's temporary directory.
        f"user {_user()};\n"
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    access_log off;\n"
        f"{temp}\n"
        f"{documented_config(server.port, port)}\n"
        "}\n"
    )
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=open(prefix / "stderr.log", "wb"),  # noqa: SIM115 - the process owns it
    )
    try:
        _wait_listening(process, port, prefix)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def _wait_listening(process: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{(prefix / 'stderr.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen:\n{(prefix / 'stderr.log').read_text()}")


async def handshake(
    base: str,
    cp_id: str,
    password: str,
    *,
    source: str = PROXY,
    forwarded_for: str | None = None,
    boot: bool = False,
) -> int:
    """A charger handshake from `source` (a loopback address of this host): 101 when accepted
    (then a BootNotification when `boot`), else the HTTP status it was refused with."""
    headers = basic(cp_id, password)
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    url = f"{base.replace('http', 'ws', 1)}/ocpp/{cp_id}"
    try:
        async with connect(
            url,
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            additional_headers=headers,
            open_timeout=10,
            local_addr=(source, 0),
        ) as ws:
            if boot:
                assert (await RawCharger(ws).call("BootNotification", BOOT))["status"] == "Accepted"
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


async def fail_until_limited(
    base: str, cp_id: str, *, source: str = PROXY, forwarded_for: str | None = None
) -> list[int]:
    """Wrong passwords until the address is limited: the statuses seen."""
    return [
        await handshake(base, cp_id, "wrong", source=source, forwarded_for=forwarded_for)
        for _ in range(HANDSHAKE_FAILURES + 1)
    ]


def api_client(base: str, source: str = PROXY) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=f"{base}/1.2", transport=transport, timeout=10)


BAD_KEY = {"x-api-key": "cg_nobody_" + "0" * 43}


async def test_behind_the_proxy_one_address_is_limited_and_the_others_still_connect(
    server: Server, nginx: str
) -> None:
    op = await server.operator()
    victim, bystander = await op.add_charger(password="pw-1"), await op.add_charger(password="pw-2")
    statuses = await fail_until_limited(nginx, victim.charge_point_id, source="127.0.0.2")
    assert statuses == [403] * HANDSHAKE_FAILURES + [429], statuses
    # Every other charger behind the same proxy still gets in, the victim's id included.
    assert (
        await handshake(nginx, bystander.charge_point_id, "pw-2", source="127.0.0.3", boot=True)
        == 101
    )
    assert await handshake(nginx, victim.charge_point_id, "pw-1", source="127.0.0.4") == 101
    # Limited even with the right password, and whatever it claims to forward: nginx appends
    # the address it saw, and the server takes the last one its trusted proxy did not vouch for.
    for forwarded in (None, "198.51.100.7", "198.51.100.8, 127.0.0.3"):
        assert (
            await handshake(
                nginx, victim.charge_point_id, "pw-1", source="127.0.0.2", forwarded_for=forwarded
            )
            == 429
        )
    # The refusals were logged with the client's address, not the proxy's.
    refused = [line for line in server.log().splitlines() if victim.charge_point_id in line]
    assert any('"client": "127.0.0.2"' in line for line in refused), refused[-3:]

    # The API's limit on bad keys, through the same proxy.
    async with api_client(nginx, "127.0.0.2") as guesser, api_client(nginx, "127.0.0.3") as other:
        answers = [
            (await guesser.get("/ports", headers=BAD_KEY)).status_code
            for _ in range(API_FAILURES + 1)
        ]
        assert answers == [401] * API_FAILURES + [429], answers
        assert_error(await other.get("/ports", headers=BAD_KEY), 401)
        assert (await other.get("/ports", headers=op.headers)).status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(server: Server) -> None:
    """Straight to the server, bypassing the proxy: a header naming a fresh address on every try
    does not make a fresh client."""
    op = await server.operator()
    charger = await op.add_charger(password="pw")
    statuses = [
        await handshake(
            server.base_url,
            charger.charge_point_id,
            "wrong",
            source="127.0.0.5",
            forwarded_for=f"198.51.100.{n}",
        )
        for n in range(HANDSHAKE_FAILURES + 1)
    ]
    assert statuses == [403] * HANDSHAKE_FAILURES + [429], statuses
    async with api_client(server.base_url, "127.0.0.5") as client:
        answers = [
            (await client.get("/ports", headers={**BAD_KEY, "X-Forwarded-For": f"203.0.113.{n}"}))
            for n in range(API_FAILURES + 1)
        ]
    assert [a.status_code for a in answers] == [401] * API_FAILURES + [429]


async def test_ipv6_handshake_failures_are_limited_per_64(server: Server, nginx: str) -> None:
    """IPv6 clients presented through the trusted proxy: one /64 is one client."""
    op = await server.operator()
    cp_id = (await op.add_charger(password="pw")).charge_point_id
    statuses = await fail_until_limited(nginx, cp_id, forwarded_for="2001:db8:1:1::1")
    assert statuses == [403] * HANDSHAKE_FAILURES + [429], statuses
    assert await handshake(nginx, cp_id, "pw", forwarded_for="2001:db8:1:1:ffff::2") == 429
    assert await handshake(nginx, cp_id, "pw", forwarded_for="2001:db8:1:2::1") == 101


async def test_ipv6_bad_api_keys_are_limited_per_64(nginx: str) -> None:
    async with api_client(nginx) as client:

        async def status(address: str) -> int:
            headers = {**BAD_KEY, "X-Forwarded-For": address}
            return (await client.get("/ports", headers=headers)).status_code

        answers = [await status(f"2001:db8:2:1::{n + 1:x}") for n in range(API_FAILURES + 1)]
        assert answers == [401] * API_FAILURES + [429], answers
        assert await status("2001:db8:2:1:abcd::1") == 429
        assert await status("2001:db8:2:2::1") == 401


async def test_the_documented_proxy_lets_a_token_import_through(server: Server, nginx: str) -> None:
    """The import's body is larger than the 64k the proxy allows the rest of the API."""
    operator = await server.operator()
    rows = [{"id_tag": f"P{n:05d}", "status": "Accepted", "note": "x" * 40} for n in range(2000)]
    async with api_client(nginx) as client:
        client.headers.update(operator.headers)
        response = await client.post("/tokens:import", json={"tokens": rows})
        assert response.status_code == 200, response.text
        assert response.json() == {"created": 2000, "updated": 0, "unchanged": 0}
        big = {"id_tag": "P-BIG", "status": "Accepted", "note": "x" * 70_000}
        assert (await client.post("/tokens", json=big)).status_code == 413


@pytest.mark.parametrize(
    "setting",
    ["127.0.0.1", "127.0.0.1,::1", "10.0.0.0/24", "10.0.0.5/24", "*", "10.0.0.5, *", "fd00::/8"],
)
def test_the_socket_bound_exempts_exactly_the_proxies_uvicorn_trusts(setting: str) -> None:
    """The bound per address on sockets (before any header) exempts trusted proxies: the same
    ones whose X-Forwarded-For uvicorn believes, or a proxy would be exempt there while its
    clients were all counted as it everywhere else (or the other way round)."""
    ours, uvicorns = Proxies(setting), _TrustedHosts(setting)
    for host in ["127.0.0.1", "::1", "10.0.0.5", "10.0.0.77", "10.0.1.1", "fd00::1", "*"]:
        assert (host in ours) == (host in uvicorns), host
