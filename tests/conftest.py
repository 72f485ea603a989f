"""Fixtures: real server processes, and simulated chargers that are powered off afterwards."""

from __future__ import annotations

import compileall
import os
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

import chargegate
from support import (
    POSTGRES_URL,
    Charger,
    Operator,
    RawCharger,
    Server,
    Simulators,
    drop_postgres_databases,
    raw_charger,
)

# Under CI every test runs: one that skips (a missing tool or service) fails the run instead.
STRICT = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    """Compile chargegate's sources once, before the workers start: where the environment sets
    PYTHONDONTWRITEBYTECODE, every server and CLI process of the run (some 500) would compile
    them again, a tenth of a server's start-up (that setting stops Python writing bytecode, not
    reading it)."""
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(Path(chargegate.__file__).parent, quiet=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each pass runs the tests meant for its database; the others are deselected, not skipped."""
    other_pass = "sqlite_only" if POSTGRES_URL else "postgres_only"
    deselected = [item for item in items if item.get_closest_marker(other_pass)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other_pass)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {report.longrepr}"
    return report


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh server (and database) for one test, with the settings of its `server_env` mark."""
    mark = request.node.get_closest_marker("server_env")
    env: dict[str, str] = mark.args[0] if mark else {}
    with Server(workdir=tmp_path, extra_env=env).running() as instance:
        yield instance


@pytest.fixture(scope="module")
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server for a module of tests that each use their own operator, with the settings
    of the module's SHARED_SERVER_ENV if it has one."""
    env: dict[str, str] = getattr(request.module, "SHARED_SERVER_ENV", {})
    workdir = tmp_path_factory.mktemp("shared")
    with Server(workdir=workdir, extra_env=env).running() as instance:
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


@pytest.fixture
async def raw16(op: Operator) -> AsyncIterator[tuple[RawCharger, Charger]]:
    """A 1.6 charger driven frame by frame."""
    async with raw_charger(op, "ocpp1.6") as connected:
        yield connected


@pytest.fixture
async def raw201(op: Operator) -> AsyncIterator[tuple[RawCharger, Charger]]:
    """A 2.0.1 charging station driven frame by frame."""
    async with raw_charger(op, "ocpp2.0.1") as connected:
        yield connected
