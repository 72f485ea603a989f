"""Fixtures: real server processes, and simulated chargers that are powered off afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support import Operator, Server, Simulators, drop_postgres_databases


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh server (and database) for one test."""
    with Server(workdir=tmp_path).running() as instance:
        yield instance


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module of tests that each use their own operator."""
    with Server(workdir=tmp_path_factory.mktemp("shared")).running() as instance:
        yield instance


@pytest.fixture(params=["1.6", "2.0.1"], ids=["ocpp1.6", "ocpp2.0.1"])
async def simulators(request: pytest.FixtureRequest) -> AsyncIterator[Simulators]:
    """Simulated chargers for one test, which runs once per OCPP version; all are powered off
    afterwards."""
    running = Simulators(request.param)
    yield running
    for charger in running:
        await charger.power_off()


@pytest.fixture
async def op(shared_server: Server) -> Operator:
    """A fresh operator (and API key) on the module's shared server."""
    return await shared_server.operator()


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """In the PostgreSQL pass, drop the databases the servers of this run created."""
    yield
    drop_postgres_databases()
