"""The site balancer against the independent strict-schema charger (tests/js/strict_charger.mjs,
ocpp-rpc validating every frame we send against its own OCPP schemas), in both versions.

Each charger reports the limit it applies after every change ('applied' events, timed to the
sub-millisecond); replaying them in time order gives the site's total draw at every instant, so
the site limit is checked at each transition, not only when settled."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chargegate.domain.charging_profiles import BALANCER_STACK_LEVEL
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Charger as ChargerRow
from support import (
    MANY_STARTS_ENV,
    Charger,
    Operator,
    Server,
    eventually,
    iso,
    poll_queue,
    stop_session,
)
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_sites import make

pytestmark = pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])

SHARED_SERVER_ENV = MANY_STARTS_ENV
# Room for two sessions at the 6 A minimum, not for three.
LIMIT = 16.0
# Long enough that the profiles' cut at the expiry never shows during a test.
EXPIRES_S = 3600


def draw(event: dict[str, Any]) -> float:
    """What a connector may draw after an 'applied' event."""
    if not event["charging"]:
        return 0.0
    limit = event["limitA"]
    return float(event["maxA"] if limit is None else min(limit, event["maxA"]))


class Site:
    """Strict chargers (one port each) under one site."""

    def __init__(self, nodes: dict[str, NodeCharger]) -> None:
        self.nodes = nodes

    def timeline(self) -> list[tuple[float, str, float]]:
        """Every change of draw, in the order the chargers applied them."""
        changes = [
            (event["atMs"], cp, draw(event))
            for cp, node in self.nodes.items()
            for event in node.of("applied")
        ]
        return sorted(changes)

    def worst(self) -> float:
        """The highest total draw at any instant so far."""
        current: dict[str, float] = {}
        worst = 0.0
        for _, cp, amps in self.timeline():
            current[cp] = amps
            worst = max(worst, sum(current.values()))
        return worst

    def now(self, cp: str) -> float:
        applied = self.nodes[cp].of("applied")
        return draw(applied[-1]) if applied else 0.0

    def when(self, cp: str, amps: float) -> float:
        """When the charger last went to drawing `amps` (from drawing something else)."""
        times: list[float] = []
        before: float | None = None
        for at, who, drawn in self.timeline():
            if who == cp:
                if drawn == amps and before != amps:
                    times.append(at)
                before = drawn
        assert times, (cp, amps, self.timeline())
        return times[-1]

    async def settle(self, expected: dict[str, float]) -> None:
        async def reached() -> bool:
            return all(abs(self.now(cp) - amps) < 1e-6 for cp, amps in expected.items())

        try:
            await eventually(reached, timeout=60)
        except AssertionError:
            raise AssertionError(f"not reached {expected}: {self.timeline()}") from None


async def probed(server: Server, charge_point_id: str) -> None:
    """Wait until the server has read whether the charger takes profiles."""
    engine = create_engine(server.settings.database_url)
    try:

        async def known() -> bool:
            async with session_factory(engine)() as session:
                found = await session.scalar(
                    select(ChargerRow.smart_charging).where(
                        ChargerRow.charge_point_id == charge_point_id
                    )
                )
                return found is not None

        await eventually(known, timeout=30)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def strict_site(
    op: Operator, dialect: Dialect, options: list[list[str]]
) -> AsyncIterator[tuple[Site, list[Charger]]]:
    chargers = [await op.add_charger() for _ in options]
    async with contextlib.AsyncExitStack() as stack:
        nodes: dict[str, NodeCharger] = {}
        for charger, extra in zip(chargers, options, strict=True):
            node = NodeCharger(op.server, charger, dialect, "--smart-charging", *extra)
            nodes[charger.charge_point_id] = await stack.enter_async_context(running(node))
        for charger in chargers:
            await probed(op.server, charger.charge_point_id)
        yield Site(nodes), chargers


async def start(client: httpx.AsyncClient, charger: Charger) -> str:
    created = await client.post(
        "/transactions", json={"port_uuid": charger.port_uuids[0], "expires": iso(EXPIRES_S)}
    )
    assert created.status_code == 201, created.text
    opened = await poll_queue(client, created.json()["queue_uuid"], timeout=30)
    assert opened.get("state") == "Open", opened
    return str(created.json()["transaction_uuid"])


def balancer_profiles(node: NodeCharger) -> list[dict[str, Any]]:
    """The balancer's SetChargingProfile calls the charger received."""
    calls = [event["params"] for event in node.of("call", "SetChargingProfile")]
    profiles = [call.get("csChargingProfiles") or call["chargingProfile"] for call in calls]
    return [p for p in profiles if p["stackLevel"] == BALANCER_STACK_LEVEL]


async def test_strict_chargers_share_a_full_site(op: Operator, dialect: Dialect) -> None:
    async with strict_site(op, dialect, [[], [], []]) as (site, chargers), op.client() as client:
        a, b, c = (charger.charge_point_id for charger in chargers)
        made = await make(client, max_current_a=LIMIT, chargers=[a, b, c])
        path = f"/sites/{made['site_uuid']}"

        first = await start(client, chargers[0])
        await site.settle({a: LIMIT})

        await start(client, chargers[1])
        await site.settle({a: LIMIT / 2, b: LIMIT / 2})
        # a was lowered (and applied it) before b was raised.
        assert site.when(a, LIMIT / 2) < site.when(b, LIMIT / 2), site.timeline()

        third = await start(client, chargers[2])

        async def third_waits() -> bool:
            shares = (await client.get(path)).json()["sessions"]
            return any(s["transaction_uuid"] == third and s["waiting"] for s in shares)

        await eventually(third_waits, timeout=60)
        await site.settle({a: LIMIT / 2, b: LIMIT / 2, c: 0.0})

        await stop_session(client, first)
        await site.settle({a: 0.0, b: LIMIT / 2, c: LIMIT / 2})
        # The room c got is the room a's stop freed.
        assert site.when(a, 0.0) < site.when(c, LIMIT / 2), site.timeline()

        assert site.worst() <= LIMIT + 1e-6, site.timeline()
        for node in site.nodes.values():
            for profile in balancer_profiles(node):
                assert profile["chargingProfilePurpose"] == "TxProfile", profile


async def test_a_charger_refusing_profiles_is_counted_at_its_maximum(
    op: Operator, dialect: Dialect
) -> None:
    refusal = "NotSupported" if dialect is V16 else "Rejected"
    limit = 40.0
    options = [[f"--profile-answer={refusal}"], []]
    async with strict_site(op, dialect, options) as (site, chargers), op.client() as client:
        refusing, taking = (charger.charge_point_id for charger in chargers)
        made = await make(client, max_current_a=limit, chargers=[refusing, taking])
        path = f"/sites/{made['site_uuid']}"

        await start(client, chargers[0])
        await site.settle({refusing: 32.0})

        async def tried() -> bool:
            return bool(balancer_profiles(site.nodes[refusing]))

        await eventually(tried, timeout=60)
        await start(client, chargers[1])
        # What the refusing charger may draw (its port's 32 A) leaves 8 A.
        await site.settle({refusing: 32.0, taking: limit - 32.0})

        async def shown() -> bool:
            shares = (await client.get(path)).json()["sessions"]
            by_cp = {s["charge_point_id"]: s["allocated_a"] for s in shares}
            return by_cp == {refusing: 32.0, taking: limit - 32.0}

        await eventually(shown, timeout=60)
        assert site.worst() <= limit + 1e-6, site.timeline()
