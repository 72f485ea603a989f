"""The "roll your own" baseline for bench/chargers.py: a minimal OCPP 1.6 CSMS written the way the
mobilityhouse `ocpp` README suggests, on `websockets` with default settings. It stores nothing,
authenticates nobody and answers BootNotification, Heartbeat, StatusNotification and MeterValues.

    .venv/bin/python bench/baseline_csms.py [--port 9000]   # ws://127.0.0.1:PORT/<charger id>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class BaselineChargePoint(ChargePoint):  # type: ignore[misc]
    @on(Action.boot_notification)
    def on_boot_notification(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(),
            interval=300,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on(Action.status_notification)
    def on_status_notification(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()


async def on_connect(websocket: ServerConnection) -> None:
    charge_point_id = (websocket.request.path if websocket.request else "/").strip("/")
    with contextlib.suppress(ConnectionClosed):
        await BaselineChargePoint(charge_point_id.rsplit("/", 1)[-1], websocket).start()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    async with serve(on_connect, args.host, args.port, subprotocols=["ocpp1.6"]) as server:
        print(f"baseline CSMS on ws://{args.host}:{args.port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
