"""The CLI contract: every command migrates by itself; keys and chargers print as documented."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import Server, eventually, iso, poll_queue, poll_transaction


def chargegate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHARGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    return subprocess.run(
        [sys.executable, "-m", "chargegate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_commands_work_on_a_fresh_database(tmp_path: Path) -> None:
    created = chargegate(tmp_path, "apikey", "create", "--operator", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cg_")

    added = chargegate(
        tmp_path, "chargers", "add", "CP-9", "--connectors", "2", "--operator", "acme"
    )
    assert added.returncode == 0, added.stderr
    body = json.loads(added.stdout)
    assert body["charge_point_id"] == "CP-9"
    assert [p["connector_id"] for p in body["ports"]] == [1, 2]
    # No password given: one is generated, printed once, and only its hash is kept.
    password = body["password"]
    assert len(password) >= 32 and "shown once" in added.stderr

    again = chargegate(tmp_path, "chargers", "add", "CP-9", "--operator", "acme")
    assert again.returncode == 1
    assert "already registered" in again.stderr

    with sqlite3.connect(tmp_path / "cli.db") as db:
        stored = db.execute("SELECT key_hash FROM api_keys").fetchall()
        assert stored and key not in stored[0][0]
        ((password_hash,),) = db.execute("SELECT password_hash FROM chargers").fetchall()
        # Generated: SHA-256 is enough for 192 random bits (a chosen one would be scrypt).
        assert password.startswith("cgp-") and password_hash.startswith("sha256$")
        assert password not in password_hash


def test_key_from_cli_works_against_server(tmp_path: Path) -> None:
    server = Server(workdir=tmp_path)
    created = subprocess.run(
        [sys.executable, "-m", "chargegate", "apikey", "create", "--operator", "acme"],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    key = created.stdout.strip().splitlines()[-1]
    server.start()
    try:
        assert httpx.get(f"{server.api}/ports", headers={"x-api-key": key}).status_code == 200
        wrong = httpx.get(f"{server.api}/ports", headers={"x-api-key": key[:-2] + "xx"})
        assert wrong.status_code == 401
        assert wrong.json() == {
            "message": "Incorrect credentials: send a valid API key in the x-api-key header"
        }
        assert key not in server.log()
    finally:
        server.stop()


def test_password_is_stored_hashed(tmp_path: Path) -> None:
    added = chargegate(
        tmp_path, "chargers", "add", "CP-P", "--operator", "acme", "--password", "hunter22"
    )
    assert added.returncode == 0, added.stderr
    with sqlite3.connect(tmp_path / "cli.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM chargers").fetchone()
    assert stored.startswith("scrypt$") and "hunter22" not in stored


def test_a_passwordless_charger_must_be_asked_for_by_name(tmp_path: Path) -> None:
    """`--password ""` used to register a charger anyone could connect as."""
    empty = chargegate(tmp_path, "chargers", "add", "CP-E", "--operator", "acme", "--password", "")
    assert empty.returncode == 2 and "empty password" in empty.stderr, empty.stderr
    # The generated form is checked fast (services.admission): nobody may choose it.
    chosen = ["--operator", "acme", "--password", "cgp-x"]
    mine = chargegate(tmp_path, "chargers", "add", "CP-E", *chosen)
    assert mine.returncode == 2 and "may not start with 'cgp-'" in mine.stderr, mine.stderr
    both = ["--password", "pw-1234", "--insecure-no-password"]
    clash = chargegate(tmp_path, "chargers", "add", "CP-E", "--operator", "acme", *both)
    assert clash.returncode == 2 and "exclude each other" in clash.stderr, clash.stderr
    insecure = chargegate(
        tmp_path, "chargers", "add", "CP-I", "--operator", "acme", "--insecure-no-password"
    )
    assert insecure.returncode == 0, insecure.stderr
    assert "WARNING" in insecure.stderr and "password" not in json.loads(insecure.stdout)
    with sqlite3.connect(tmp_path / "cli.db") as db:
        rows = db.execute("SELECT charge_point_id, password_hash FROM chargers").fetchall()
    assert rows == [("CP-I", "insecure-no-password")]

    renewed = chargegate(tmp_path, "chargers", "new-password", "CP-I")
    assert renewed.returncode == 0 and "shown once" in renewed.stderr, renewed.stderr
    with sqlite3.connect(tmp_path / "cli.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM chargers").fetchone()
    password = renewed.stdout.strip()
    assert password.startswith("cgp-") and stored.startswith("sha256$") and password not in stored
    unknown = chargegate(tmp_path, "chargers", "new-password", "CP-nobody")
    assert unknown.returncode == 1 and "not registered" in unknown.stderr


def test_demo_prints_a_key_and_ports_and_its_curl_works(tmp_path: Path) -> None:
    """`make run` runs `chargegate demo`: its printed key, port and curl work as printed."""
    server = Server(workdir=tmp_path)
    passwords = []
    for _ in range(2):  # a second run reuses the demo charger and prints a fresh key
        process = subprocess.Popen(
            [sys.executable, "-m", "chargegate", "demo", "--port", str(server.port)],
            env=server.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            lines = []
            while not any(line.startswith("Press Ctrl-C") for line in lines):
                lines.append(process.stdout.readline())
            text = "".join(lines)
            key = re.search(r"demo API key:\s+(\S+)", text)
            ports = re.findall(r"port \d:\s+(\S+)", text)
            curl = re.search(r"(curl -s -X POST .*?/transactions)\n", text, re.S)
            assert key and len(ports) == 2 and curl, text
            # The demo charger has a password like any other, and the simulator logs in with it.
            password = re.search(r"its password:\s+(\S+)", text)
            assert password, text
            passwords.append(password.group(1))
            headers = {"x-api-key": key.group(1)}
            deadline = time.monotonic() + 10
            listed: list[dict[str, object]] = []
            while not listed or not all(port["online"] for port in listed):
                assert time.monotonic() < deadline, listed
                time.sleep(0.1)
                with contextlib.suppress(httpx.TransportError):
                    listed = httpx.get(f"{server.api}/ports", headers=headers).json()
            assert sorted(p["port_uuid"] for p in listed) == sorted(ports)
            created = subprocess.run(
                ["bash", "-c", curl.group(1).replace("\\\n", " ")],
                capture_output=True,
                text=True,
                timeout=30,
            )
            queue_uuid = json.loads(created.stdout)["queue_uuid"]
            deadline = time.monotonic() + 10
            while True:
                body = httpx.get(f"{server.api}/queue/{queue_uuid}", headers=headers).json()
                if body.get("state") == "Open" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert body.get("state") == "Open", body
            closed = httpx.patch(
                f"{server.api}/transactions/{body['transaction_uuid']}",
                headers=headers,
                json={"state": "closed"},
            )
            assert closed.status_code == 202
            stop_path = f"{server.api}/queue/{closed.json()['id']}"
            while httpx.get(stop_path, headers=headers).json().get("state") != "Closed":
                assert time.monotonic() < deadline + 10
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(15)
    # Only a hash is kept, so a second run can only print a new one (and the charger uses it).
    assert passwords[0] != passwords[1]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_simulate_command_is_a_working_charger(server: Server, version: str) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargegate",
        "simulate",
        charger.charge_point_id,
        "--connectors",
        "2",
        "--url",
        server.ws_url,
        "--meter-interval",
        "0.5",
        "--ocpp-version",
        version,
        env=server.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with operator.client() as client:

            async def booted() -> bool:
                ports = (await client.get("/ports")).json()
                return all(p["online"] and p["status"] == "Available" for p in ports)

            await eventually(booted)
            created = (
                await client.post(
                    "/transactions", json={"port_uuid": charger.port_uuids[1], "expires": iso(60)}
                )
            ).json()
            opened = await poll_queue(client, created["queue_uuid"])
            assert opened["state"] == "Open"
            metered = await poll_transaction(
                client, created["transaction_uuid"], lambda tx: (tx["energy_wh"] or 0) > 0
            )
            assert metered["state"] == "Open"
            stop = (
                await client.patch(
                    f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
                )
            ).json()
            assert (await poll_queue(client, stop["id"]))["state"] == "Closed"
    finally:
        process.terminate()
        await process.wait()
