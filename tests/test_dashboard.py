"""The operator dashboard: its arithmetic, its bounds, and the real page in headless Chromium,
with /1.2/docs beside it: both under their Content-Security-Policy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegate.domain.dashboard import Delivery, energy_per_hour, seconds_left
from support import (
    Server,
    Simulators,
    accepted_cards,
    api_time,
    assert_error,
    eventually,
    iso,
    online,
    open_session,
    poll_queue,
    poll_transaction,
    raw_charger,
    start_session,
    transactions,
)

JS_DIR = Path(__file__).parent / "js"
NODE = shutil.which("node")
CHROMIUM = os.environ.get("CHARGEGATE_CHROMIUM", "/usr/bin/chromium")
browser_test = pytest.mark.skipif(
    NODE is None
    or not Path(CHROMIUM).exists()
    or not (JS_DIR / "node_modules" / "playwright-core").is_dir(),
    reason="needs node, `make js-deps` (playwright-core) and Chromium "
    "(`apt-get install chromium`, or CHARGEGATE_CHROMIUM=/path/to/chrome)",
)


def test_time_left_and_hourly_energy() -> None:
    now = datetime(2026, 11, 24, 15, 40, tzinfo=UTC)
    assert seconds_left(now + timedelta(minutes=5), now) == 300
    assert seconds_left(now - timedelta(minutes=5), now) == 0
    assert seconds_left(None, now) is None
    hours = energy_per_hour(
        [
            Delivery(now, 1000),
            Delivery(now - timedelta(minutes=30), 500),  # 15:10: same hour
            Delivery(now - timedelta(hours=2), 250),
            Delivery(now - timedelta(hours=30), 9999),  # outside the window
        ],
        now,
    )
    assert len(hours) == 24
    assert hours[-1] == (datetime(2026, 11, 24, 15, tzinfo=UTC), 1500)
    assert hours[-3] == (datetime(2026, 11, 24, 13, tzinfo=UTC), 250)
    assert sum(wh for _, wh in hours) == 1750


def test_hourly_energy_window_edges() -> None:
    now = datetime(2026, 11, 24, 15, 0, 0, tzinfo=UTC)  # on the hour: a bucket of its own
    oldest = datetime(2026, 11, 23, 16, tzinfo=UTC)
    hours = energy_per_hour(
        [
            Delivery(now, 10),  # counts in 15h, not 14h
            Delivery(now - timedelta(microseconds=1), 20),  # 14:59:59.999999: 14h
            Delivery(oldest, 40),  # the first bucket's first instant
            Delivery(oldest - timedelta(seconds=1), 80),  # 23 h 0 min 1 s ago: outside
            Delivery(now + timedelta(hours=1), 160),  # a clock ahead of ours: not in the window
            Delivery(now, -5),  # a meter that went backwards adds nothing
        ],
        now,
    )
    assert hours[0] == (oldest, 40)
    assert hours[-2] == (datetime(2026, 11, 24, 14, tzinfo=UTC), 20)
    assert hours[-1] == (now, 10)
    assert [start for start, _ in hours] == [oldest + timedelta(hours=n) for n in range(24)]
    assert energy_per_hour([], now, hours=3) == [
        (now - timedelta(hours=2), 0),
        (now - timedelta(hours=1), 0),
        (now, 0),
    ]
    # Partial seconds are cut, never rounded up: "0 s left" only once it has really expired.
    assert seconds_left(now + timedelta(seconds=0.9), now) == 0
    assert seconds_left(now + timedelta(hours=2, seconds=1.5), now) == 7201


def unfilter(kind: int, line: bytearray, prev: bytearray, channels: int) -> None:
    """Undo one PNG row filter in place (PNG spec, section 9)."""
    if kind == 1:
        for i in range(channels, len(line)):
            line[i] = (line[i] + line[i - channels]) & 0xFF
    elif kind == 2:
        for i in range(len(line)):
            line[i] = (line[i] + prev[i]) & 0xFF
    elif kind == 3:
        for i in range(len(line)):
            left = line[i - channels] if i >= channels else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(line)):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], (prev[i - channels] if i >= channels else 0)
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF


def png_pixels(path: Path) -> list[bytes]:
    """The RGB pixels of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0, chunk
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    pixels: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        line = bytearray(raw[at + 1 : at + 1 + stride])
        unfilter(raw[at], line, prev, channels)
        pixels.extend(bytes(line[i : i + 3]) for i in range(0, stride, channels))
        prev = line
    return pixels


async def run_node(script: str, *args: str) -> dict[str, Any]:
    """Runs one of tests/js/*_check.mjs; returns the JSON line it prints."""
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE, str(JS_DIR / script), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def run_check(server: Server, key: str, shot: Path, wait_for: str = "") -> dict[str, Any]:
    return await run_node("dashboard_check.mjs", server.base_url, key, str(shot), wait_for)


PROBE = "Executing inline script violates"


def assert_policy_in_force(seen: dict[str, Any], server: Server) -> None:
    """The page ran under its Content-Security-Policy without breaking it, asked nothing of any
    host but this server, refused an injected inline script and refused to be framed."""
    assert seen["violations"] == [], seen["violations"]
    assert seen["inlineScriptBlocked"] is True and seen["inlineScriptRan"] is False, seen
    assert seen["requests"], seen
    off_server = [url for url in seen["requests"] if not url.startswith(f"{server.base_url}/")]
    assert off_server == [], off_server
    assert [error for error in seen["errors"] if PROBE not in error] == [], seen["errors"]
    assert seen["framed"] is False


def assert_page_headers(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def staged(client: httpx.AsyncClient, port_uuid: str, outcome: str) -> dict[str, Any]:
    """A sandbox start (`stg`) whose queue item is given `outcome`; returns the 201 body."""
    created = await start_session(client, port_uuid, stg=True)
    resolved = await client.get(
        f"/queue/{created['queue_uuid']}", params={"stg": "true", "stg_input": outcome}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json().get("state" if outcome == "Success" else "status") in {
        "Open",
        "FAILURE",
    }, resolved.text
    return created


async def overview(server: Server, key: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        return await client.get("/dashboard/api/overview", headers={"x-api-key": key})


@pytest.fixture
def eager_seen_server(tmp_path: Path) -> Iterator[Server]:
    """Writes last_seen_at on every heartbeat (at most once a minute by default)."""
    with Server(
        workdir=tmp_path, extra_env={"CHARGEGATE_SEEN_WRITE_INTERVAL_S": "0"}
    ).running() as server:
        yield server


async def test_heartbeats_move_each_chargers_last_seen(
    eager_seen_server: Server, simulators: Simulators
) -> None:
    """Heartbeats of several chargers at once are written together (a group commit); every
    charger's own time is stored."""
    server = eager_seen_server
    operator = await server.operator()
    chargers = [await operator.add_charger() for _ in range(3)]
    sims = [await online(simulators, server, charger) for charger in chargers]

    async def last_seen() -> dict[str, datetime]:
        data = (await overview(server, operator.key)).json()
        return {c["charge_point_id"]: api_time(c["last_seen"]) for c in data["chargers"]}

    connected = await last_seen()
    assert set(connected) == {c.charge_point_id for c in chargers}

    # The API shows whole seconds: heartbeats a second later are told from the connections.
    async def next_second() -> bool:
        return datetime.now(UTC).replace(microsecond=0) > max(connected.values())

    await eventually(next_second)
    beats = [sim.enqueue(("Heartbeat", {}), durable=False).done for sim in sims]
    await asyncio.wait_for(asyncio.gather(*beats), 10)

    # Written after the answers, which do not wait for it.
    async def all_moved() -> bool:
        later = await last_seen()
        return all(later[cp] > connected[cp] for cp in connected)

    await eventually(all_moved)


async def test_energy_of_readings_far_apart_is_summed_without_overflow(server: Server) -> None:
    """meterStart -2,000,000,000 and meterStop 2,000,000,000 are both signed 32-bit readings a
    charger may send; their difference needs 33 bits and must still reach the hourly chart."""
    operator = await server.operator()
    await accepted_cards(operator, "CARD-1")
    async with raw_charger(operator, "ocpp1.6") as (raw, charger):
        started = await raw.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "CARD-1",
                "meterStart": -2_000_000_000,
                "timestamp": iso(-60),
            },
        )
        stop = {
            "transactionId": started["transactionId"],
            "meterStop": 2_000_000_000,
            "timestamp": iso(0),
        }
        await raw.call("StopTransaction", stop)
    async with operator.client() as client:

        async def closed() -> bool:
            return [t["state"] for t in await transactions(client, charger.port_uuids[0])] == [
                "Closed"
            ]

        await eventually(closed)
    response = await overview(server, operator.key)
    assert response.status_code == 200, response.text
    assert sum(h["wh"] for h in response.json()["energy_per_hour"]) == 4_000_000_000


async def test_dashboard_data_is_the_keys_own_and_not_staging(server: Server) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)  # never connects
    other = await (await server.operator()).add_charger()
    async with operator.client() as client:
        staged_open = await staged(client, charger.port_uuids[0], "Success")
        staged_fail = await staged(client, charger.port_uuids[1], "Failure")
        failed = await start_session(client, charger.port_uuids[1])  # offline: fails at once
        assert (await poll_queue(client, failed["queue_uuid"]))["status"] == "FAILURE"

    response = await overview(server, operator.key)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [c["charge_point_id"] for c in data["chargers"]] == [charger.charge_point_id]
    assert data["chargers"][0]["online"] is False
    assert {p["port_uuid"] for p in data["chargers"][0]["ports"]} == set(charger.port_uuids)
    assert other.charge_point_id not in response.text
    # The sandbox's open transaction and failed request are not the operator's real ones.
    assert data["open_transactions"] == []
    assert staged_open["transaction_uuid"] not in response.text
    assert staged_fail["queue_uuid"] not in response.text
    [failure] = data["recent_failures"]
    assert failure["id"] == failed["queue_uuid"]
    assert failure["transaction_uuid"] == failed["transaction_uuid"]
    assert failure["charge_point_id"] == charger.charge_point_id
    assert failure["kind"] == "start" and "offline" in failure["reason"]
    assert len(data["energy_per_hour"]) == 24
    assert sum(h["wh"] for h in data["energy_per_hour"]) == 0

    assert_error(await overview(server, "cg_0000000000000000_wrong"), 401)
    page = await httpx.AsyncClient(base_url=server.base_url).get("/dashboard")
    assert page.status_code == 200 and "x-api-key" in page.text
    assert charger.charge_point_id not in page.text  # the page itself holds no data


@browser_test
async def test_dashboard_shows_live_data(
    server: Server, simulators: Simulators, tmp_path: Path
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    await online(simulators, server, charger, meter_interval_s=0.3)
    other = await (await server.operator()).add_charger()  # another operator's: never shown
    unplugged = await operator.add_charger()  # never connects: its start fails at once
    async with operator.client() as client:
        created = await open_session(client, charger.port)
        await poll_transaction(
            client, created["transaction_uuid"], lambda tx: (tx["energy_wh"] or 0) > 0
        )
        failed = await client.post(
            "/transactions", json={"port_uuid": unplugged.port, "expires": iso(600)}
        )
        assert failed.status_code == 201
        ports = (await client.get("/ports")).json()
    shot = tmp_path / "dashboard.png"
    seen = await run_check(server, operator.key, shot, created["transaction_uuid"])
    assert seen["signedIn"] is True
    assert seen["visible"] == {
        "login": False,
        "login-error": False,
        "chargers": True,
        "open": True,
        "failures": True,
        "chart": True,
    }
    ours = [line for line in seen["chargers"] if charger.charge_point_id in line]
    assert len(ours) == 2 and all("online" in line for line in ours), seen["chargers"]
    # The status the charger reported (1.6 says Charging, 2.0.1 Occupied), as the API has it.
    statuses = {
        p["connector_id"]: p["status"] for p in ports if p["port_uuid"] in charger.port_uuids
    }
    assert statuses[1] in {"Charging", "Occupied"} and statuses[2] == "Available", statuses
    for line in ours:
        _, _, last_seen, connector, *_ = line.split("\t")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", last_seen), line
        assert statuses[int(connector)] in line, (line, statuses)
    assert any(unplugged.charge_point_id in line and "offline" in line for line in seen["chargers"])
    assert not any(other.charge_point_id in line for line in seen["chargers"])
    [opened] = [line for line in seen["open"] if created["transaction_uuid"] in line]
    assert charger.charge_point_id in opened and re.search(r"\d+ min \d+ s", opened), opened
    [failure] = [line for line in seen["failures"] if failed.json()["transaction_uuid"] in line]
    assert unplugged.charge_point_id in failure and "offline" in failure, failure
    assert seen["bars"] == 24 and seen["tallBars"] >= 1  # this hour's energy is drawn

    assert_policy_in_force(seen, server)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_page_headers(await http.get("/dashboard"))

    assert shot.stat().st_size > 5_000
    pixels = Counter(png_pixels(shot))
    assert len(pixels) > 100, "the screenshot is (nearly) one colour"
    # The chart's bar colour (dashboard.html), so the energy bar itself made it to the screen.
    assert pixels[bytes.fromhex("2a7ab8")] > 200, pixels.most_common(5)


@browser_test
async def test_dashboard_refuses_a_wrong_key(server: Server, tmp_path: Path) -> None:
    seen = await run_check(server, "cg_0000000000000000_wrong", tmp_path / "refused.png")
    assert seen["signedIn"] is False
    assert seen["visible"]["login-error"] is True and seen["visible"]["chargers"] is False
    assert "refused" in seen["loginError"]


@browser_test
async def test_docs_render_from_this_server_under_the_policy(
    server: Server, tmp_path: Path
) -> None:
    """/1.2/docs used to load Swagger UI from a CDN (no docs without internet) with an inline
    script, and had no policy: now its files come from an installed package, every request
    stays on this server, and the page draws every operation of the document under a policy
    that allows no inline script and no framing."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_page_headers(await http.get("/1.2/docs"))
        document = (await http.get("/1.2/openapi.json")).json()
    shot = tmp_path / "docs.png"
    seen = await run_node("docs_check.mjs", server.base_url, str(shot))
    assert seen["drawn"] is True, seen
    expected = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert set(seen["operations"]) == expected, seen["operations"]
    assert_policy_in_force(seen, server)
    assert shot.stat().st_size > 5_000


@pytest.mark.server_env({"CHARGEGATE_DASHBOARD_MAX_ROWS": "2"})
async def test_dashboard_lists_a_bounded_number_of_rows(
    server: Server, simulators: Simulators
) -> None:
    """Every port and every open transaction of the operator used to be read and sent on each
    3-second refresh; now at most CHARGEGATE_DASHBOARD_MAX_ROWS of each (the soonest expiries
    first), and how many more there are."""
    operator = await server.operator()
    charger = await operator.add_charger(connectors=3)
    await online(simulators, server, charger)
    async with operator.client() as client:
        opened = [
            await open_session(client, port, expires)
            for port, expires in zip(charger.port_uuids, (900, 600, 700), strict=True)
        ]
    response = await overview(server, operator.key)
    assert response.status_code == 200, response.text
    data = response.json()
    [shown] = data["chargers"]
    assert [p["connector_id"] for p in shown["ports"]] == [1, 2]
    listed = [t["transaction_uuid"] for t in data["open_transactions"]]
    assert listed == [opened[1]["transaction_uuid"], opened[2]["transaction_uuid"]]
    assert data["not_shown"] == {"ports": 1, "open_transactions": 1}
