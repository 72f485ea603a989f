"""The server's CPU per MeterValues inside a transaction: the message a charging fleet sends
most (every charging connector, every sample interval). C raw OCPP 1.6 chargers each open a
transaction (StartTransaction with an Accepted card), then send N MeterValues one after another,
each with a new energy register reading and the power and current they draw; the server's CPU
time (from /proc, all its threads) over the readings answered.

    .venv/bin/python bench/meter_values.py [--chargers 20] [--each 100] [--quick]
        [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from common import (
    cpu_seconds,
    database,
    postgres_available,
    provision,
    publish,
    start_server,
    stop_server,
)
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect

CARD = "BENCH-METER"


async def call(ws: ClientConnection, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    unique_id = str(uuid.uuid4())
    await ws.send(json.dumps([2, unique_id, action, payload]))
    while True:
        frame = json.loads(await ws.recv())
        if frame[0] == 3 and frame[1] == unique_id:
            answer: dict[str, Any] = frame[2]
            return answer
        if frame[0] == 4 and frame[1] == unique_id:
            raise RuntimeError(f"{action} refused: {frame}")


def reading(transaction_id: int, wh: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sampled = [
        {"measurand": "Energy.Active.Import.Register", "value": str(wh), "unit": "Wh"},
        {"measurand": "Power.Active.Import", "value": str(7000 + wh % 400), "unit": "W"},
        {"measurand": "Current.Import", "value": str(30 + wh % 3), "unit": "A"},
    ]
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": now, "sampledValue": sampled}],
    }


async def charger(
    port: int, cp_id: str, each: int, ready: asyncio.Queue[str], start: asyncio.Event
) -> None:
    url = f"ws://127.0.0.1:{port}/ocpp/{cp_id}"
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await call(ws, "BootNotification", {"chargePointVendor": "b", "chargePointModel": "m"})
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        started = await call(
            ws,
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": now},
        )
        transaction_id = started["transactionId"]
        for wh in range(1, 6):  # warm-up
            await call(ws, "MeterValues", reading(transaction_id, wh))
        ready.put_nowait(cp_id)
        await start.wait()
        for wh in range(10, 10 + each):
            await call(ws, "MeterValues", reading(transaction_id, wh * 10))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--each", type=int, default=100)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    chargers, each = (10, 50) if args.quick else (args.chargers, args.each)
    if args.database == "postgresql" and not postgres_available():
        raise SystemExit("PostgreSQL is not reachable")
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-meter-values-"))
    async with database(args.database, workdir) as url:
        key, _ = await provision(url, "MV", chargers, 1)
        server, port = await start_server(url, workdir / "server.log")
        try:
            api = f"http://127.0.0.1:{port}/1.2"
            async with httpx.AsyncClient(base_url=api, headers={"x-api-key": key}) as client:
                added = await client.post("/tokens", json={"id_tag": CARD, "status": "Accepted"})
                added.raise_for_status()
            go = asyncio.Event()
            ready: asyncio.Queue[str] = asyncio.Queue()
            running = [
                asyncio.create_task(charger(port, f"MV{n}", each, ready, go))
                for n in range(chargers)
            ]
            # Every charger booted, started its transaction and had its warm-up answered.
            for _ in range(chargers):
                async with asyncio.timeout(120):
                    await ready.get()
            cpu_before, began = cpu_seconds(server.pid), time.monotonic()
            go.set()
            await asyncio.gather(*running)
            cpu = cpu_seconds(server.pid) - cpu_before
            elapsed = time.monotonic() - began
        finally:
            await stop_server(server)
    count = chargers * each
    text = "\n".join(
        [
            f"### Server CPU per MeterValues in a transaction (one node, {args.database})",
            "",
            f"{chargers} OCPP 1.6 chargers, {each} readings each (energy, power, current), one "
            "after another per charger.",
            "",
            "| readings | per second | server CPU each |",
            "|---|---|---|",
            f"| {count} | {count / elapsed:.0f} | {1000 * cpu / count:.2f} ms |",
            "",
        ]
    )
    publish("meter_values", text)


if __name__ == "__main__":
    asyncio.run(main())
