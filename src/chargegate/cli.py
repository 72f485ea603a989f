"""`chargegate serve | migrate | apikey | chargers | simulate`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer
import uvicorn

from chargegate.config import Settings
from chargegate.domain.times import format_api, utcnow


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"


app = typer.Typer(help="chargegate: an OCPP charging backend with a small REST API.")
apikey_app = typer.Typer(help="Manage API keys.")
chargers_app = typer.Typer(help="Manage chargers.")
app.add_typer(apikey_app, name="apikey")
app.add_typer(chargers_app, name="chargers")


def _settings() -> Settings:
    from chargegate.store.migrate import upgrade_sync

    settings = Settings()
    # Every command first brings the database up to the current schema.
    upgrade_sync(settings.database_url)
    return settings


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _settings()
    typer.echo("database is at the current schema")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API and the OCPP endpoint.")] = 8180,
    auto_register: Annotated[
        bool, typer.Option("--auto-register", help="Accept unknown chargers and register them.")
    ] = False,
    node_id: Annotated[str | None, typer.Option(help="This node's name.")] = None,
) -> None:
    """Serve the REST API under /1.2 and OCPP at ws://HOST:PORT/ocpp/{charge_point_id}."""
    from chargegate import logs

    settings = _settings()
    if auto_register:
        settings.auto_register = True
    if node_id:
        settings.node_id = node_id
    logs.configure(settings.log_level)
    typer.echo(f"chargegate listening on http://{host}:{port}/1.2 and ws://{host}:{port}/ocpp/")
    _server(settings, host, port).run()


class DrainingServer(uvicorn.Server):
    """On SIGTERM, drain the node (see server.create_app) before uvicorn closes its sockets."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._drain()
        await super().shutdown(sockets)


def _server(settings: Settings, host: str, port: int) -> DrainingServer:
    from chargegate.server import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_size,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return DrainingServer(config, app.state.drain)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API and the OCPP endpoint.")] = 8180,
) -> None:
    """Serve with a simulated two-port demo charger, and print a demo API key to try the API."""
    from chargegate import logs, provisioning
    from chargegate.sim.charger import SimulatedCharger

    settings = _settings()
    logs.configure(settings.log_level)
    key, charger = asyncio.run(provisioning.demo_setup(settings))
    api = f"http://{host}:{port}/1.2"
    ports = charger["ports"]
    expires = format_api(utcnow() + timedelta(hours=1))
    typer.echo(
        f"\nchargegate demo: API on {api}, OCPP on ws://{host}:{port}/ocpp/\n"
        f"  demo API key:  {key}\n"
        f"  demo charger:  {charger['charge_point_id']} (simulated, OCPP 1.6J)\n"
        + "".join(f"  port {p['connector_id']}:        {p['port_uuid']}\n" for p in ports)
        + "\nTry it (charges until one hour from now):\n"
        f"  curl -s -X POST -H 'x-api-key: {key}' -H 'Content-Type: application/json' \\\n"
        f'    --data \'{{"port_uuid": "{ports[0]["port_uuid"]}", '
        f'"expires": "{expires}+0000"}}\' {api}/transactions\n'
        "\nPress Ctrl-C to stop.\n"
    )
    simulator = SimulatedCharger(
        url=f"ws://{host}:{port}/ocpp",
        charge_point_id=charger["charge_point_id"],
        connectors=len(ports),
    )

    async def run() -> None:
        server = _server(settings, host, port)
        simulator.start()
        try:
            await server.serve()
        finally:
            await simulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@apikey_app.command("create")
def apikey_create(
    operator: Annotated[str, typer.Option(help="Operator the key belongs to.")],
) -> None:
    """Create an API key; it is printed once, as the last line, and only its hash is kept."""
    from chargegate import provisioning

    key = asyncio.run(provisioning.create_api_key(_settings(), operator))
    typer.echo(f"API key for operator {operator!r} (shown once, store it now):", err=True)
    typer.echo(key)


@chargers_app.command("add")
def chargers_add(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
    operator: Annotated[str, typer.Option(help="Operator that owns the charger.")],
    connectors: Annotated[int, typer.Option(min=1, max=32, help="Number of ports.")] = 1,
    password: Annotated[
        str | None, typer.Option(help="Require HTTP Basic auth (security profile 1).")
    ] = None,
    ocpp_version: Annotated[
        OcppVersion | None,
        typer.Option(help="Use this version when the charger offers several (default: newest)."),
    ] = None,
) -> None:
    """Register a charger and one port per connector (EVSE); prints them as JSON."""
    from chargegate import provisioning

    try:
        added = asyncio.run(
            provisioning.add_charger(
                _settings(),
                charge_point_id,
                operator,
                connectors,
                password,
                None if ocpp_version is None else f"ocpp{ocpp_version.value}",
            )
        )
    except provisioning.AlreadyRegistered as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(added))


@app.command()
def simulate(
    charge_point_ids: Annotated[list[str], typer.Argument(help="Charger ids to simulate.")],
    url: Annotated[str, typer.Option(help="Server base URL.")] = "ws://127.0.0.1:8180/ocpp",
    connectors: Annotated[int, typer.Option(min=1, max=32)] = 1,
    password: Annotated[str | None, typer.Option(help="Basic auth password.")] = None,
    meter_interval: Annotated[float, typer.Option(help="Seconds between MeterValues.")] = 10.0,
    ocpp_version: Annotated[OcppVersion, typer.Option(help="OCPP version to speak.")] = (
        OcppVersion.V16
    ),
    smart_charging: Annotated[
        bool, typer.Option("--smart-charging", help="Accept charging profiles (fail-safe).")
    ] = False,
) -> None:
    """Run simulated chargers (OCPP 1.6J or 2.0.1) until interrupted."""
    from chargegate.sim.charger import SimulatedCharger, run_forever

    chargers = [
        SimulatedCharger(
            url=url,
            charge_point_id=cp_id,
            connectors=connectors,
            password=password,
            meter_interval_s=meter_interval,
            ocpp_version=ocpp_version.value,
            smart_charging=smart_charging,
        )
        for cp_id in charge_point_ids
    ]
    typer.echo(f"simulating {', '.join(charge_point_ids)} against {url}", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(chargers))
