"""The dashboard's controls (the operator's hands), used in headless Chromium against simulated
chargers of both OCPP versions: each click goes through the public API to the charger, and the
page shows the queue item's outcome, a charger's refusal included. One browser walks them all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chargegate import provisioning
from chargegate.domain.roles import Role
from support import Server, Simulators, iso, online, open_session
from test_dashboard import PROBE, browser_test, run_node

REFUSED = "the server responded with a status of 400 (Bad Request)"


def by_control(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in steps}


@browser_test
# How long a command waits for an offline charger: the offline charger's FAILURE comes after it.
@pytest.mark.server_env({"CHARGEGATE_COMMAND_TIMEOUT_S": "6"})
async def test_each_control_reaches_the_charger_and_shows_its_outcome(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger(connectors=2)
    sim = await online(simulators, server, charger)
    refusing = await operator.add_charger()
    stubborn = await online(simulators, server, refusing, unlock="UnlockFailed")
    unplugged = (await operator.add_charger()).charge_point_id  # never connects
    sessions_key = await provisioning.create_api_key(server.settings, operator.name, Role.SESSIONS)
    async with operator.client() as client:
        session = (await open_session(client, charger.port_uuids[0]))["transaction_uuid"]
    v16 = simulators.ocpp_version == "1.6"
    reset_type = "hard" if v16 else "immediate"
    new_expiry = iso(3600, "%Y-%m-%dT%H:%M:%S")  # no zone typed: the page sends it as UTC
    cp, other = charger.charge_point_id, refusing.charge_point_id

    def at(control: str, **target: str) -> str:
        return f"[data-control={control}]" + "".join(f'[data-{k}="{v}"]' for k, v in target.items())

    steps = [
        {"name": "configuration", "control": at("configuration", charger=cp)},
        {
            "name": "charger operative",
            "control": at("availability", charger=cp) + ":not([data-port])",
            "select": "operative",
        },
        {
            "name": "port inoperative",
            "control": at("availability", charger=cp, port="2"),
            "select": "inoperative",
        },
        {"name": "unlock", "control": at("unlock", charger=cp, port="2")},
        {"name": "bad extend", "control": at("extend", transaction=session), "fill": "soon"},
        {
            "name": "extend",
            "control": at("extend", transaction=session),
            "fill": new_expiry,
            "afterRefresh": True,
        },
        {"name": "stop", "control": at("stop", transaction=session)},
        {"name": "reset", "control": at("reset", charger=cp), "select": reset_type},
        {"name": "refused unlock", "control": at("unlock", charger=other, port="1")},
        {"name": "offline unlock", "control": at("unlock", charger=unplugged, port="1")},
    ]
    seen = await run_node(
        "dashboard_controls.mjs", server.base_url, operator.key, json.dumps(steps), sessions_key
    )
    assert seen["signedIn"] is True
    done = by_control(seen["steps"])
    states = {name: step["state"] for name, step in done.items()}
    failed = {"refused unlock": "FAILURE", "bad extend": "FAILURE", "offline unlock": "FAILURE"}
    assert states == {name: "SUCCESS" for name in states} | failed, done

    # Read configuration: the charger was asked for all of it (chargegate's own reads after
    # each boot name their keys), and the page lists the keys.
    if v16:
        assert {} in sim.requests("GetConfiguration")
        assert "HeartbeatInterval = 60" in done["configuration"]["keys"]
    else:
        [report] = sim.requests("GetBaseReport")
        assert report["reportBase"] == "FullInventory"
        assert "OCPPCommCtrlr.HeartbeatInterval = 60" in done["configuration"]["keys"]
    # Availability of the whole charger, then of port 2; unlock of port 2.
    if v16:
        assert sim.requests("ChangeAvailability") == [
            {"connectorId": 0, "type": "Operative"},
            {"connectorId": 2, "type": "Inoperative"},
        ]
        assert sim.requests("UnlockConnector") == [{"connectorId": 2}]
    else:
        assert sim.requests("ChangeAvailability") == [
            {"operationalStatus": "Operative"},
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
        ]
        assert sim.requests("UnlockConnector") == [{"evseId": 2, "connectorId": 1}]
    assert '"status":"Accepted"' in done["port inoperative"]["text"]
    assert '"status":"Unlocked"' in done["unlock"]["text"]
    # Extend moved `expires` to what was typed; stop reached the charger and closed the session.
    async with operator.client() as client:
        ended = (await client.get(f"/transactions/{session}")).json()
    assert ended["expires"] == new_expiry and ended["state"] == "Closed", ended
    assert done["extend"]["text"] == f"SUCCESS: expires {new_expiry}Z"
    # The API's own refusal of what was typed is shown in its words.
    assert done["bad extend"]["text"].startswith("FAILURE: HTTP 400: "), done
    assert "'soon' is not an ISO 8601 timestamp" in done["bad extend"]["text"], done
    assert sim.stop_requests == 1
    assert done["stop"]["text"] == "SUCCESS: transaction Closed"
    # Reset offers only the charger's own version's types.
    assert done["reset"]["options"] == (["soft", "hard"] if v16 else ["immediate", "on_idle"])
    assert sim.requests("Reset") == [{"type": "Hard" if v16 else "Immediate"}]
    assert '"status":"Accepted"' in done["reset"]["text"]
    # The charger's refusal, as the queue item gives it.
    assert stubborn.requests("UnlockConnector") == [
        {"connectorId": 1} if v16 else {"evseId": 1, "connectorId": 1}
    ]
    assert done["refused unlock"]["text"] == (
        "FAILURE: The charger rejected UnlockConnector (UnlockFailed)"
    )
    # A charger that is not connected: IN PROGRESS while the command waits for it, then FAILURE.
    offline = done["offline unlock"]
    assert offline["first"] == "IN PROGRESS", offline
    assert offline["text"].startswith(f"FAILURE: Charger {unplugged} was offline"), offline
    assert offline["text"].endswith("so the command was not sent"), offline
    # The action log keeps every outcome, the stop's too (its session row is gone by now).
    assert len(seen["log"]) == len(steps)
    assert any("Stop" in line and "transaction Closed" in line for line in seen["log"]), seen["log"]
    assert seen["logAfterSignOut"] == 0  # whoever signs in next in the tab does not see it

    # A `sessions` key may not send commands (nor read the dashboard's data): it is not signed
    # in, and the page says why in the server's words.
    assert seen["secondSignedIn"] is False
    assert "may not use the dashboard" in seen["secondError"], seen["secondError"]
    assert "'sessions'" in seen["secondError"], seen["secondError"]

    # All of it under the page's Content-Security-Policy, talking only to this server.
    assert seen["violations"] == [] and seen["inlineScriptRan"] is False, seen
    assert [url for url in seen["requests"] if not url.startswith(server.base_url)] == []
    # Chromium logs each 4xx answer; the bad extension's 400 is the only one.
    errors = [error for error in seen["errors"] if PROBE not in error]
    assert errors == [f"Failed to load resource: {REFUSED}"], errors
