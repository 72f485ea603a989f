"""Fixtures: real server processes, and simulated chargers that are powered off afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chargegate.sim.charger import SimulatedCharger
from chargegate.store.migrate import upgrade_sync
from support import Operator, Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh server (and database) for one test."""
    instance = Server(workdir=tmp_path)
    upgrade_sync(instance.database_url)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module of tests that each use their own operator."""
    instance = Server(workdir=tmp_path_factory.mktemp("shared"))
    upgrade_sync(instance.database_url)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
async def simulators() -> AsyncIterator[list[SimulatedCharger]]:
    """Simulated chargers registered here are powered off after the test."""
    running: list[SimulatedCharger] = []
    yield running
    for charger in running:
        await charger.stop()


@pytest.fixture
async def op(shared_server: Server) -> Operator:
    """A fresh operator (and API key) on the module's shared server."""
    return await shared_server.operator()
