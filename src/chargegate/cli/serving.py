"""Serving: `serve`, `demo`, `migrate`, `simulate` and `status`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from chargegate.cli.common import OcppVersion
from chargegate.cli.common import settings as _settings
from chargegate.config import Settings
from chargegate.domain.times import format_api, utcnow


def _check_tls(settings: Settings) -> None:
    """Half a TLS configuration would silently serve plain text: refuse to start instead."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        typer.echo("error: --tls-cert and --tls-key go together (or neither)", err=True)
        raise typer.Exit(2)
    if settings.tls_client_ca is not None and settings.tls_cert is None:
        typer.echo("error: --tls-client-ca needs --tls-cert and --tls-key", err=True)
        raise typer.Exit(2)
    if settings.tls_client_cert_required and settings.tls_client_ca is None:
        typer.echo("error: --tls-client-cert-required needs --tls-client-ca", err=True)
        raise typer.Exit(2)
    for path in (settings.tls_cert, settings.tls_key, settings.tls_client_ca):
        if path is not None and not Path(path).is_file():
            typer.echo(f"error: TLS file {path} does not exist or is not a file", err=True)
            raise typer.Exit(2)


def _check_auto_registration(settings: Settings) -> None:
    from chargegate.domain.auto_registration import AutoRegistrationMisconfigured, auto_registration

    try:
        auto_registration(
            settings.auto_register, settings.auto_register_secret, settings.auto_register_insecure
        )
    except AutoRegistrationMisconfigured as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def migrate() -> None:
    """Create or upgrade the database schema."""
    _settings()
    typer.echo("database is at the current schema")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API and the OCPP endpoint.")] = 8180,
    auto_register: Annotated[
        bool,
        typer.Option(
            "--auto-register",
            help="Register unknown chargers that send CHARGEGATE_AUTO_REGISTER_SECRET as their "
            "password (or any, with --auto-register-insecure).",
        ),
    ] = False,
    auto_register_insecure: Annotated[
        bool,
        typer.Option(
            "--auto-register-insecure",
            help="With --auto-register and no secret: register any unknown id without a password.",
        ),
    ] = False,
    node_id: Annotated[str | None, typer.Option(help="This node's name.")] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate chain: serve HTTPS and wss:// (security profile 2)."),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(
            help="PEM CA certificate(s): chargers may log in with a client certificate it signed, "
            "whose subject CN is their id (security profile 3)."
        ),
    ] = None,
    tls_client_cert_required: Annotated[
        bool,
        typer.Option(
            "--tls-client-cert-required",
            help="With --tls-client-ca: refuse every TLS connection without a client certificate "
            "(API clients included).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes sharing the port, each a node named <node id>-w<i> "
            "(PostgreSQL only; set CHARGEGATE_BROKER_URL for immediate wake-ups between them).",
        ),
    ] = 1,
) -> None:
    """Serve the REST API under /1.2 and OCPP at ws://HOST:PORT/ocpp/{charge_point_id}."""
    from chargegate import logs

    settings = _settings()
    if auto_register:
        settings.auto_register = True
    if auto_register_insecure:
        settings.auto_register_insecure = True
    if node_id:
        settings.node_id = node_id
    if tls_cert is not None:
        settings.tls_cert = str(tls_cert)
    if tls_key is not None:
        settings.tls_key = str(tls_key)
    if tls_client_ca is not None:
        settings.tls_client_ca = str(tls_client_ca)
    if tls_client_cert_required:
        settings.tls_client_cert_required = True
    _check_tls(settings)
    _check_auto_registration(settings)
    _check_workers(settings, workers)
    logs.configure(settings.log_level)
    http, ws = ("https", "wss") if settings.tls_cert else ("http", "ws")
    typer.echo(f"chargegate listening on {http}://{host}:{port}/1.2 and {ws}://{host}:{port}/ocpp/")
    if workers > 1:
        from chargegate.workers import Supervisor, worker_node_id

        names = [worker_node_id(settings.node_id, index) for index in range(workers)]
        typer.echo(f"{workers} worker processes, the nodes {', '.join(names)}")
        Supervisor(settings, host, port, workers).run()
        return
    from chargegate.server import uvicorn_server

    uvicorn_server(settings, host, port).run()


def _check_workers(settings: Settings, workers: int) -> None:
    from chargegate.store.database import is_sqlite

    if workers > 1 and is_sqlite(settings.database_url):
        typer.echo(
            "error: --workers needs PostgreSQL (CHARGEGATE_DATABASE_URL): SQLite has one writer,"
            " and is served by one process",
            err=True,
        )
        raise typer.Exit(2)


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
        f"  its password:  {charger['password']} (HTTP Basic auth; new on every run)\n"
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
        password=charger["password"],
    )

    from chargegate.server import uvicorn_server

    async def run() -> None:
        server = uvicorn_server(settings, host, port)
        simulator.start()
        try:
            await server.serve()
        finally:
            await simulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


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


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Live counts for the whole deployment (all nodes), read from the database."""
    from chargegate import provisioning

    counts = asyncio.run(provisioning.live_counts(_settings()))
    if as_json:
        typer.echo(json.dumps(counts))
        return
    nodes = ", ".join(f"{node}: {n}" for node, n in sorted(counts["connected_by_node"].items()))
    states = ", ".join(f"{state} {n}" for state, n in counts["transactions"].items())
    typer.echo(
        f"chargers             {counts['connected_chargers']} connected of {counts['chargers']}"
    )
    typer.echo(f"  by node            {nodes or '-'}")
    typer.echo(f"transactions         {states}")
    typer.echo(f"queue in progress    {counts['queue_items_in_progress']}")
    typer.echo(f"commands outstanding {counts['commands_outstanding']}")
    typer.echo(f"webhooks pending     {counts['webhook_deliveries_pending']}")
