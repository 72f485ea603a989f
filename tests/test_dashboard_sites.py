"""The dashboard's site panel in headless Chromium: a site with its limit, each open session's
allocation and the allocation over time, updating by itself in an open page after a start."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from chargegate.sim.charger import SimulatedCharger
from support import Operator, open_session
from test_dashboard import JS_DIR, NODE, browser_test
from test_site_balancer_strict import probed
from test_sites import make

pytestmark = browser_test


class Panel:
    """tests/js/dashboard_sites.mjs: one page kept open, asked to wait for texts."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert raw, "the browser driver ended early"
        read: dict[str, Any] = json.loads(raw)
        return read

    async def showing(self, text: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{text}\n".encode())
        await self.process.stdin.drain()
        shown = await self.line()
        assert not shown["timedOut"], shown
        assert shown["visible"] and shown["errors"] == [], shown
        return shown


def site_row(shown: dict[str, Any], name: str) -> tuple[list[str], int]:
    """The panel's row of the site, and the points of its allocation line."""
    body = shown["rows"][1:]  # the header first
    (index,) = [i for i, cells in enumerate(body) if cells[0] == name]
    return body[index], shown["points"][index]


async def test_the_site_panel_shows_allocations_and_follows_a_start(op: Operator) -> None:
    chargers = [await op.add_charger() for _ in range(2)]
    sims = []
    for charger in chargers:
        sim = SimulatedCharger(
            url=op.server.ws_url, charge_point_id=charger.charge_point_id, smart_charging=True
        )
        sims.append(sim)
        sim.start()
    assert NODE is not None
    process = None
    try:
        for charger in chargers:
            await probed(op.server, charger.charge_point_id)
        a, b = (charger.charge_point_id for charger in chargers)
        name = f"Depot {uuid.uuid4().hex[:6]}"
        async with op.client() as client:
            await make(client, name=name, max_current_a=20, chargers=[a, b])
            await open_session(client, chargers[0].port, 3600)

            process = await asyncio.create_subprocess_exec(
                NODE, str(JS_DIR / "dashboard_sites.mjs"), op.server.base_url, op.key,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            panel = Panel(process)
            assert (await panel.line()) == {"ready": True}

            await panel.showing(f"{a}: 20 A")
            shown = await panel.showing("1 / 0")  # the decision recorded
            cells, points = site_row(shown, name)
            assert cells[:4] == [name, "20 A", "20 A", "1 / 0"], cells
            assert cells[4] == f"{a}: 20 A", cells
            assert points >= 1, shown

            # The page is not reloaded: its own refresh shows the new share.
            await open_session(client, chargers[1].port, 3600)
            await panel.showing(f"{b}: 10 A")
            shown = await panel.showing("2 / 0")
            cells, later = site_row(shown, name)
            assert cells[:4] == [name, "20 A", "20 A", "2 / 0"], cells
            assert cells[4] == f"{a}: 10 A; {b}: 10 A", cells
            assert later > points, shown
    finally:
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            _, err = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode == 0, err.decode()
        for sim in sims:
            await sim.power_off()
