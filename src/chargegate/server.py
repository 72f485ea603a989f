"""The composition root: one ASGI app serving the API and the OCPP endpoint, with the
dispatcher, scheduler and webhook sender running beside them, and the uvicorn server that
serves it and drains it on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn
from fastapi import FastAPI

from chargegate import __version__, heap, listener, metrics
from chargegate.api import errors, openapi, roles
from chargegate.api.auth import operator_id
from chargegate.api.chargers import router as chargers_router
from chargegate.api.charging_profiles import router as charging_profiles_router
from chargegate.api.configuration import router as configuration_router
from chargegate.api.dashboard import router as dashboard_router
from chargegate.api.docs import router as docs_router
from chargegate.api.file_transfers import router as file_transfers_router
from chargegate.api.health import router as health_router
from chargegate.api.local_lists import router as local_lists_router
from chargegate.api.middleware import BodyLimit, RequestContext
from chargegate.api.pages import BrowserHeaders
from chargegate.api.reservations import router as reservations_router
from chargegate.api.routes import commands_router, router
from chargegate.api.settings import router as settings_router
from chargegate.api.sites import router as sites_router
from chargegate.api.tokens import IMPORT_PATH
from chargegate.api.tokens import router as tokens_router
from chargegate.api.webhooks import router as webhooks_router
from chargegate.bus import Bus
from chargegate.bus.local import LocalBus
from chargegate.config import Settings
from chargegate.domain.auto_registration import AutoRegistration, auto_registration
from chargegate.domain.credentials import INSECURE_NO_PASSWORD, hash_password
from chargegate.ocpp.asgi import ChargerSockets
from chargegate.ocpp.connections import ConnectionRegistry
from chargegate.ocpp.endpoint import OcppEndpoint
from chargegate.services.api_keys import ApiGuard
from chargegate.services.api_writes import ApiWrites
from chargegate.services.charger_lookups import ChargerLookups
from chargegate.services.dispatcher import Dispatcher
from chargegate.services.report_writes import ReportWrites
from chargegate.services.runtime import NodeState, Runtime
from chargegate.services.scheduler import Scheduler
from chargegate.services.site_balancer import SiteBalancer
from chargegate.services.slow_checks import SlowChecks
from chargegate.services.webhook_sender import WebhookSender
from chargegate.store import chargers as charger_store
from chargegate.store import claims as claim_store
from chargegate.store.database import (
    create_engine,
    create_grouped,
    create_reader,
    is_sqlite,
    session_factory,
)

log = logging.getLogger(__name__)

GOING_AWAY = 1001


def _warn_insecure(registration: AutoRegistration, chargers: int) -> None:
    """Said at every start, so that an opt-out of credentials is never forgotten."""
    if registration is AutoRegistration.INSECURE:
        log.warning(
            "INSECURE: CHARGEGATE_AUTO_REGISTER_INSECURE is set: any unknown id is registered "
            "without a password; set CHARGEGATE_AUTO_REGISTER_SECRET instead"
        )
    if chargers:
        log.warning(
            "INSECURE: %d charger(s) registered without a password: anyone who knows such an id "
            "can connect as that charger",
            chargers,
            extra={"insecure_chargers": chargers},
        )


def create_app(settings: Settings) -> FastAPI:
    engine = create_engine(settings.database_url)
    reader = create_reader(settings.database_url, engine)
    grouped = create_grouped(settings.database_url, engine)
    grouped_reads = reader if is_sqlite(settings.database_url) else grouped
    bus: Bus = LocalBus()
    if settings.broker_url:
        # Only multi-node mode needs the broker's client, a tenth of the imports of every start.
        from chargegate.bus.redis import RedisBus

        bus = RedisBus(settings.broker_url, settings.node_id)
    registration = auto_registration(
        settings.auto_register, settings.auto_register_secret, settings.auto_register_insecure
    )
    sessions = session_factory(engine)
    runtime = Runtime(
        settings=settings,
        sessions=sessions,
        reads=session_factory(reader),
        bus=bus,
        node=NodeState(
            password_checks=SlowChecks(
                "charger_password", settings.charger_password_checks_at_once
            ),
            writes=ReportWrites(session_factory(grouped), bus),
            # Shared transactions pay where there is one writer; on a pool they serialise.
            api_writes=ApiWrites(sessions, shared=is_sqlite(settings.database_url)),
            lookups=ChargerLookups(session_factory(grouped_reads)),
            auto_registration=registration,
            bootstrap_hash=(
                hash_password(settings.auto_register_secret)
                if registration is AutoRegistration.BOOTSTRAP_SECRET
                and settings.auto_register_secret is not None
                else None
            ),
        ),
    )
    api_guard = ApiGuard(settings)
    registry = ConnectionRegistry()

    dispatcher = Dispatcher(runtime, registry)

    async def drain() -> None:
        """Graceful shutdown, before the listener closes: refuse new chargers, let commands in
        flight get their answers, then send every charger away to reconnect elsewhere."""
        runtime.node.draining = True
        await dispatcher.finish_in_flight(settings.call_timeout_s)
        await registry.close_all(GOING_AWAY, "node shutting down; reconnect")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.sessions() as session, session.begin():
            await charger_store.release_node(session, settings.node_id)
            await claim_store.release_node_claims(session, settings.node_id)
            insecure = await charger_store.count_with_password_hash(session, INSECURE_NO_PASSWORD)
        _warn_insecure(registration, insecure)
        await bus.start(on_evict=registry.evict)
        heap.settle()
        tasks = [
            asyncio.create_task(dispatcher.run(), name="dispatcher"),
            asyncio.create_task(Scheduler(runtime).run(), name="scheduler"),
            asyncio.create_task(WebhookSender(runtime).run(), name="webhooks"),
            asyncio.create_task(SiteBalancer(runtime).run(), name="site-balancer"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.close()
            await registry.close_all(GOING_AWAY, "server shutting down")
            await runtime.node.writes.releases.flush()
            await runtime.node.writes.seen.flush()
            await bus.close()
            await engine.dispose()
            await reader.dispose()
            await grouped.dispose()
            api_guard.close()
            runtime.node.password_checks.close()

    app = FastAPI(
        title="chargegate",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/1.2/openapi.json",
        # Served by api.docs, from local files under a Content-Security-Policy.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.drain = drain
    app.state.api_guard = api_guard
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        per_path={IMPORT_PATH: settings.api_import_max_body_bytes},
    )
    app.add_middleware(RequestContext)
    app.add_middleware(BrowserHeaders)
    # Last, so outermost: chargers' sockets skip the API's middleware and router.
    app.add_middleware(ChargerSockets, endpoint=OcppEndpoint(runtime, registry))
    metrics.track_connections(lambda: len(registry))
    errors.install(app)
    openapi.install(app)
    app.include_router(router)
    app.include_router(commands_router)
    app.include_router(chargers_router)
    app.include_router(webhooks_router)
    app.include_router(tokens_router)
    app.include_router(settings_router)
    app.include_router(local_lists_router)
    app.include_router(file_transfers_router)
    app.include_router(configuration_router)
    app.include_router(charging_profiles_router)
    app.include_router(reservations_router)
    app.include_router(sites_router)
    app.include_router(health_router)
    app.include_router(dashboard_router)
    app.include_router(docs_router)
    roles.require_declared(app, operator_id)
    return app


def _client_cert_mode(settings: Settings) -> ssl.VerifyMode:
    """Optional by default: API clients and profile 1/2 chargers share the port and send none;
    a certificate that is sent must be one the CA signed, or TLS fails."""
    if settings.tls_client_ca is None:
        return ssl.CERT_NONE
    return ssl.CERT_REQUIRED if settings.tls_client_cert_required else ssl.CERT_OPTIONAL


class DrainingServer(uvicorn.Server):
    """On SIGTERM, drain the node (see create_app) before uvicorn closes its sockets."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._drain()
        await super().shutdown(sockets)


# Connections the kernel holds for us until accepted. After a restart every charger reconnects
# at once, and one that finds the queue full is dropped (its handshake reset, after retries): at
# 2,048 (uvicorn's default) 20,000 chargers reconnecting overflowed it by the hundred thousand
# (bench/profile.md). Linux caps it at net.core.somaxconn.
LISTEN_BACKLOG = 65_535


def uvicorn_server(settings: Settings, host: str, port: int) -> DrainingServer:
    """The node: the app below, served by uvicorn on our listener's socket bounds."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=settings.ws_max_size,
        # OCPP frames are a few hundred bytes: compressing them would cost CPU on every frame
        # (a flooding charger's most of all) to save little.
        ws_per_message_deflate=False,
        backlog=LISTEN_BACKLOG,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.keep_alive_s,
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
