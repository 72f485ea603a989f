"""PostgreSQL's pool: a connection the server dropped while it sat idle in the pool is noticed
when it is next taken (pinged, then replaced), so the transaction that takes it does not fail;
one back from use a moment ago is taken without a ping. Group commits and grouped reads have a
pool of their own, so a batch never waits for single transactions to give a connection back."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from sqlalchemy import text

from chargegate.store import database
from chargegate.store.database import create_engine
from chargegate.store.readings import Reading
from support import Server, fresh_postgres_database
from test_probe_writes import node_of

pytestmark = pytest.mark.postgres_only


async def test_a_connection_dropped_while_idle_is_replaced_unnoticed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = fresh_postgres_database()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            backend = await connection.scalar(text("SELECT pg_backend_pid()"))
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        # As if it had sat in the pool for longer than IDLE_PING_S.
        monkeypatch.setattr(database, "IDLE_PING_S", 0.0)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != backend
    finally:
        await engine.dispose()


async def test_a_connection_just_used_is_taken_without_a_ping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(database, "IDLE_PING_S", 3600.0)
    engine = create_engine(fresh_postgres_database())
    pings: list[object] = []
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            dbapi_connection = (await connection.get_raw_connection()).dbapi_connection
        assert dbapi_connection is not None
        adapter = type(dbapi_connection)
        real_ping = adapter.ping

        def counted_ping(self: object) -> None:
            pings.append(self)
            real_ping(self)

        monkeypatch.setattr(adapter, "ping", counted_ping)
        for _ in range(3):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        assert pings == []
        monkeypatch.setattr(database, "IDLE_PING_S", 0.0)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert pings == [dbapi_connection]
    finally:
        await engine.dispose()


async def test_batches_do_not_wait_for_the_shared_pool(server: Server) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    cp = charger.charge_point_id
    async with node_of(server) as (rt, _), contextlib.AsyncExitStack() as held:
        # Every connection of the shared pool in a transaction still under way.
        for _ in range(database.POSTGRES_CONNECTIONS):
            session = await held.enter_async_context(rt.sessions())
            await session.execute(text("SELECT 1"))
        # The shared pool would give one only after its 30 s timeout.
        async with asyncio.timeout(10):
            found = await rt.node.lookups.charger(cp)
            await rt.node.writes.readings.add(Reading(cp, 1, 1000, None, None))
        assert found is not None and found.charge_point_id == cp
