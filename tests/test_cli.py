"""The CLI contract: every command migrates by itself; keys and chargers print as documented."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from support import Server


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

    again = chargegate(tmp_path, "chargers", "add", "CP-9", "--operator", "acme")
    assert again.returncode == 1
    assert "already registered" in again.stderr

    with sqlite3.connect(tmp_path / "cli.db") as db:
        stored = db.execute("SELECT key_hash FROM api_keys").fetchall()
        assert stored and key not in stored[0][0]
        password_rows = db.execute("SELECT password_hash FROM chargers").fetchall()
        assert password_rows == [(None,)]


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
