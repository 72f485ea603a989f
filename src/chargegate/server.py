"""The composition root: one ASGI app serving the API and the OCPP endpoint, with the
dispatcher and scheduler running beside them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from chargegate import __version__
from chargegate.api import errors
from chargegate.api.health import router as health_router
from chargegate.api.routes import router
from chargegate.bus import Bus
from chargegate.bus.local import LocalBus
from chargegate.bus.redis import RedisBus
from chargegate.config import Settings
from chargegate.ocpp.connections import ConnectionRegistry
from chargegate.ocpp.endpoint import OcppEndpoint
from chargegate.services.dispatcher import Dispatcher
from chargegate.services.runtime import Runtime
from chargegate.services.scheduler import Scheduler
from chargegate.store import chargers as charger_store
from chargegate.store import commands as command_store
from chargegate.store.database import create_engine, session_factory

GOING_AWAY = 1001


def create_app(settings: Settings) -> FastAPI:
    engine = create_engine(settings.database_url)
    bus: Bus = LocalBus()
    if settings.broker_url:
        bus = RedisBus(settings.broker_url, settings.node_id)
    runtime = Runtime(settings=settings, sessions=session_factory(engine), bus=bus)
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
            await command_store.release_node_claims(session, settings.node_id)
        await bus.start(on_evict=registry.evict)
        tasks = [
            asyncio.create_task(dispatcher.run(), name="dispatcher"),
            asyncio.create_task(Scheduler(runtime).run(), name="scheduler"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.close()
            await registry.close_all(GOING_AWAY, "server shutting down")
            await bus.close()
            await engine.dispose()

    app = FastAPI(
        title="chargegate",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/1.2/openapi.json",
        docs_url="/1.2/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.drain = drain
    errors.install(app)
    app.include_router(router)
    app.include_router(health_router)
    app.add_api_websocket_route("/ocpp/{charge_point_id}", OcppEndpoint(runtime, registry))
    return app
