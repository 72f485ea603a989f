"""`chargegate serve | migrate | apikey | chargers | simulate`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from chargegate.config import Settings
from chargegate.domain.identity import InvalidChargePointId
from chargegate.domain.times import format_api, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"


app = typer.Typer(help="chargegate: an OCPP charging backend with a small REST API.")
apikey_app = typer.Typer(help="Manage API keys.")
chargers_app = typer.Typer(help="Manage chargers.")
app.add_typer(apikey_app, name="apikey")
app.add_typer(chargers_app, name="chargers")
webhooks_app = typer.Typer(help="Manage webhooks (signed event deliveries).")
app.add_typer(webhooks_app, name="webhooks")


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
    logs.configure(settings.log_level)
    http, ws = ("https", "wss") if settings.tls_cert else ("http", "ws")
    typer.echo(f"chargegate listening on {http}://{host}:{port}/1.2 and {ws}://{host}:{port}/ocpp/")
    _server(settings, host, port).run()


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


def _client_cert_mode(settings: Settings) -> ssl.VerifyMode:
    """Optional by default: API clients and profile 1/2 chargers share the port and send none;
    a certificate that is sent must be one the CA signed, or TLS fails."""
    if settings.tls_client_ca is None:
        return ssl.CERT_NONE
    return ssl.CERT_REQUIRED if settings.tls_client_cert_required else ssl.CERT_OPTIONAL


class DrainingServer(uvicorn.Server):
    """On SIGTERM, drain the node (see server.create_app) before uvicorn closes its sockets."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._drain()
        await super().shutdown(sockets)


def _server(settings: Settings, host: str, port: int) -> DrainingServer:
    from chargegate import listener
    from chargegate.server import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=settings.ws_max_size,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
        ssl_ca_certs=settings.tls_client_ca,
        ssl_cert_reqs=_client_cert_mode(settings),
        # Every limit per client address counts the address a trusted proxy forwards in
        # X-Forwarded-For (domain/addresses.py): said here, not left to uvicorn's defaults,
        # which have changed between its versions (README, "Configuration").
        proxy_headers=True,
        forwarded_allow_ips=listener.trusted_proxies(),
    )
    config.http, config.ws = listener.protocols(
        listener.SocketLimits(
            per_node=listener.fit_open_files(settings.max_connections),
            per_address=settings.connections_per_ip,
            header_timeout_s=settings.header_timeout_s,
            proxies=listener.Proxies(config.forwarded_allow_ips),
        )
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


@apikey_app.command("list")
def apikey_list() -> None:
    """Every API key: lookup id, operator, created and revoked (UTC). Never the key or hash."""
    from chargegate.store import operators as operator_store

    settings = _settings()

    async def rows() -> list[tuple[str, str, str, str]]:
        async with _session(settings) as session:
            keys = await operator_store.list_api_keys(session)
        return [
            (k.lookup, name, format_api(k.created_at) or "", format_api(k.revoked_at) or "-")
            for k, name in keys
        ]

    typer.echo("lookup\toperator\tcreated\trevoked")
    for row in asyncio.run(rows()):
        typer.echo("\t".join(row))


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="The key's lookup id (see `apikey list`) or the key.")],
) -> None:
    """Revoke an API key: from now on every request with it is refused (401), on every node."""
    from chargegate.domain.credentials import api_key_lookup
    from chargegate.store import operators as operator_store

    lookup = api_key_lookup(key) or key
    settings = _settings()

    async def revoke() -> tuple[str, str, bool] | None:
        now = utcnow()
        async with _session(settings) as session, session.begin():
            found = await operator_store.revoke_api_key(session, lookup, now)
            if found is None:
                return None
            api_key, name = found
            return api_key.lookup, name, api_key.revoked_at is not now

    revoked = asyncio.run(revoke())
    if revoked is None:
        # Never echo the argument: it may be a whole key.
        typer.echo("error: no API key with that lookup id", err=True)
        raise typer.Exit(1)
    lookup, name, earlier = revoked
    typer.echo(
        f"API key {lookup} of operator {name!r} {'was already' if earlier else 'is'} revoked"
    )


@contextlib.asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    from chargegate.store.database import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


@chargers_app.command("add")
def chargers_add(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
    operator: Annotated[str, typer.Option(help="Operator that owns the charger.")],
    connectors: Annotated[int, typer.Option(min=1, max=32, help="Number of ports.")] = 1,
    password: Annotated[
        str | None,
        typer.Option(
            help="Its HTTP Basic auth password (security profiles 1 and 2); "
            "default: a generated one, printed once."
        ),
    ] = None,
    insecure_no_password: Annotated[
        bool,
        typer.Option(
            "--insecure-no-password",
            help="Admit anyone who knows the id as this charger (logged as a warning).",
        ),
    ] = False,
    ocpp_version: Annotated[
        OcppVersion | None,
        typer.Option(help="Use this version when the charger offers several (default: newest)."),
    ] = None,
) -> None:
    """Register a charger and one port per connector (EVSE); prints them as JSON, with the
    generated password when none was given (shown once: only its hash is kept)."""
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
                insecure_no_password=insecure_no_password,
            )
        )
    except provisioning.BadChargerPassword as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (provisioning.AlreadyRegistered, InvalidChargePointId) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if "password" in added:
        typer.echo("Generated password shown once: configure it in the charger now.", err=True)
    if insecure_no_password:
        typer.echo(
            "WARNING: no password: anyone who knows this id can connect as this charger.", err=True
        )
    typer.echo(json.dumps(added))


@chargers_app.command("new-password")
def chargers_new_password(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
) -> None:
    """Give a charger a new generated password, printed once; the old one (or none) stops
    working at its next connection."""
    from chargegate import provisioning

    try:
        password = asyncio.run(provisioning.new_password(_settings(), charge_point_id))
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"New password for {charge_point_id!r} (shown once):", err=True)
    typer.echo(password)


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


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the events.")],
    operator: Annotated[str, typer.Option(help="Operator whose events it receives.")],
) -> None:
    """Register a webhook; prints it as JSON with its signing secret (shown once)."""
    from chargegate import provisioning

    try:
        added = asyncio.run(provisioning.add_webhook(_settings(), operator, url))
    except provisioning.InvalidWebhookUrl as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo("Signing secret shown once: store it to verify X-Chargegate-Signature.", err=True)
    typer.echo(json.dumps(added))


@webhooks_app.command("list")
def webhooks_list() -> None:
    """The active webhooks as JSON (secrets are not shown)."""
    from chargegate import provisioning

    typer.echo(json.dumps(asyncio.run(provisioning.list_webhooks(_settings()))))


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[int, typer.Argument(help="Id printed by `webhooks add`.")],
) -> None:
    """Stop a webhook; its undelivered events are dropped."""
    from chargegate import provisioning

    if not asyncio.run(provisioning.remove_webhook(_settings(), webhook_id)):
        typer.echo(f"error: no active webhook {webhook_id}", err=True)
        raise typer.Exit(1)


@app.command()
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
