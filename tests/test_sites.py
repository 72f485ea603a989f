"""/1.2/sites: sites and nested circuits, their members, the allocation per open session on real
simulated chargers (both versions), bad input, another operator's key and a `sessions` key."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from chargegate import provisioning
from chargegate.domain.roles import Role
from support import (
    Charger,
    Operator,
    RawCharger,
    Server,
    Simulators,
    accepted_cards,
    assert_error,
    eventually,
    online,
    open_session,
    raw_charger,
    start_report,
    transactions,
)


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Depot")
    body.setdefault("phases", 3)
    if "max_power_w" not in body:
        body.setdefault("max_current_a", 32)
    created = await client.post("/sites", json=body)
    assert created.status_code == 201, created.text
    made: dict[str, Any] = created.json()
    return made


async def test_sites_are_made_listed_changed_and_deleted(op: Operator) -> None:
    first, second = await op.add_charger(), await op.add_charger(connectors=2)
    async with op.client() as client:
        site = await make(client, max_current_a=63.25, chargers=[first.charge_point_id])
        assert site["max_current_a"] == 63.2 and site["max_power_w"] is None
        assert site["voltage"] == 230 and site["parent_uuid"] is None
        assert site["chargers"] == [first.charge_point_id] and site["ports"] == []
        feeder = await make(
            client,
            name="Feeder A",
            parent_uuid=site["site_uuid"],
            max_power_w=11040,
            ports=[second.port_uuids[1]],
        )
        assert feeder["parent_uuid"] == site["site_uuid"] and feeder["max_current_a"] is None
        # Newest first, paginated.
        page = await client.get("/sites", params={"limit": 1})
        assert [s["site_uuid"] for s in page.json()] == [feeder["site_uuid"]]
        rest = await client.get("/sites", params={"cursor": page.headers["x-next-cursor"]})
        assert [s["site_uuid"] for s in rest.json()] == [site["site_uuid"]]
        shown = (await client.get(f"/sites/{site['site_uuid']}")).json()
        assert shown["sessions"] == [] and shown["measured_current_a"] is None
        assert {k: v for k, v in shown.items() if k in site} == site
        # A port of a charger already under the site cannot go under another circuit.
        taken = await client.patch(f"/sites/{feeder['site_uuid']}", json={"ports": [first.port]})
        assert "already under another site" in assert_error(taken, 409)
        changed = await client.patch(
            f"/sites/{site['site_uuid']}", json={"max_power_w": 22000, "name": "Yard"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["max_power_w"] == 22000 and changed.json()["max_current_a"] is None
        assert changed.json()["chargers"] == [first.charge_point_id]
        assert "circuits inside" in assert_error(
            await client.delete(f"/sites/{site['site_uuid']}"), 409
        )
        assert (await client.delete(f"/sites/{feeder['site_uuid']}")).status_code == 204
        assert (await client.delete(f"/sites/{site['site_uuid']}")).status_code == 204
        assert_error(await client.get(f"/sites/{site['site_uuid']}"), 404)
        # Its members are free again.
        await make(client, ports=[first.port])


async def test_bad_input_is_400_and_changes_nothing(op: Operator) -> None:
    async with op.client() as client:
        base = {"name": "S", "phases": 3, "max_current_a": 10}
        for body, words in [
            ({"name": "S", "phases": 3}, "max_current_a or max_power_w"),
            ({**base, "max_power_w": 10}, "not both"),
            ({**base, "phases": 2}, "phases must be 1 or 3"),
            ({**base, "max_current_a": -1}, "between 0 and"),
            ({**base, "max_current_a": "10"}, "must be a number"),
            ({**base, "voltage": 5}, "voltage"),
            ({**base, "name": ""}, "name"),
            ({**base, "chargers": ["CP 1"]}, ""),
            ({**base, "ports": ["nope"]}, "not a valid UUID"),
            ({**base, "colour": "red"}, "Unknown field"),
            ({**base, "parent_uuid": str(uuid.uuid4())}, "Site not found"),
            ({**base, "chargers": ["CP-NOT-THERE"]}, "Charger not found"),
        ]:
            answer = await client.post("/sites", json=body)
            assert answer.status_code in (400, 404), (body, answer.text)
            assert words in assert_error(answer, answer.status_code), body
        assert (await client.get("/sites")).json() == []
        site = await make(client)
        assert "at least one" in assert_error(
            await client.patch(f"/sites/{site['site_uuid']}", json={}), 400
        )
        assert_error(await client.get("/sites/not-a-uuid"), 400)
        bad_priority = await client.post(
            "/transactions",
            json={
                "port_uuid": str(uuid.uuid4()),
                "expires": "2099-01-01T00:00:00Z",
                "priority": 101,
            },
        )
        assert "priority" in assert_error(bad_priority, 400)


async def test_another_operators_key_gets_404_and_a_sessions_key_403(
    shared_server: Server, op: Operator
) -> None:
    other = await shared_server.operator()
    mine = await op.add_charger()
    async with op.client() as client, other.client() as theirs:
        site = await make(client, chargers=[mine.charge_point_id])
        path = f"/sites/{site['site_uuid']}"
        assert_error(await theirs.get(path), 404)
        assert_error(await theirs.patch(path, json={"max_current_a": 1}), 404)
        assert_error(await theirs.delete(path), 404)
        assert (await theirs.get("/sites")).json() == []
        # Nor can they nest under it or put my charger under theirs.
        assert_error(
            await theirs.post("/sites", json={**_body(), "parent_uuid": site["site_uuid"]}), 404
        )
        assert_error(
            await theirs.post("/sites", json={**_body(), "chargers": [mine.charge_point_id]}), 404
        )
        assert (await client.get(path)).json()["max_current_a"] == 32
    key = await provisioning.create_api_key(shared_server.settings, op.name, Role.SESSIONS)
    async with httpx.AsyncClient(
        base_url=shared_server.api, headers={"x-api-key": key}, timeout=30
    ) as sessions:
        for method, url in [("GET", "/sites"), ("POST", "/sites"), ("GET", path)]:
            assert "'sessions'" in assert_error(
                await sessions.request(method, url, json=_body()), 403
            )


def _body() -> dict[str, Any]:
    return {"name": "S", "phases": 3, "max_current_a": 32}


async def test_open_sessions_share_the_limit_by_priority_and_arrival(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    chargers = [await op.add_charger() for _ in range(4)]
    for charger in chargers[:3]:
        await online(simulators, shared_server, charger, smart_charging=True)
    # The fourth takes no profiles: counted at its port's maximum (32 A) once it is known.
    await online(simulators, shared_server, chargers[3])
    async with op.client() as client:
        site = await make(client, max_current_a=45, chargers=[c.charge_point_id for c in chargers])
        path = f"/sites/{site['site_uuid']}"
        dumb = await open_session(client, chargers[3].port)
        first = await open_session(client, chargers[0].port)
        second = await open_session(client, chargers[1].port)
        urgent = await open_session(client, chargers[2].port, priority=5)

        async def shares() -> dict[str, dict[str, Any]]:
            shown = (await client.get(path)).json()
            return {s["transaction_uuid"]: s for s in shown["sessions"]}

        async def dumb_counted() -> bool:
            return (await shares())[dumb["transaction_uuid"]]["allocated_a"] == 32

        await eventually(dumb_counted)
        found = await shares()
        # 13 A are left: two sessions at 6 A or more, the urgent one and the earlier other.
        assert found[urgent["transaction_uuid"]]["allocated_a"] == 6.5
        assert found[urgent["transaction_uuid"]]["priority"] == 5
        assert found[first["transaction_uuid"]]["allocated_a"] == 6.5
        assert found[second["transaction_uuid"]]["allocated_a"] == 0
        assert found[second["transaction_uuid"]]["waiting"] is True
        assert found[first["transaction_uuid"]]["charge_point_id"] == chargers[0].charge_point_id
        # A feeder inside it with none of the members shows no sessions.
        feeder = await make(client, parent_uuid=site["site_uuid"], max_current_a=100, name="F")
        assert (await client.get(f"/sites/{feeder['site_uuid']}")).json()["sessions"] == []


def readings(current: str, power_kw: str, phases: bool = False) -> list[dict[str, Any]]:
    if phases:
        sampled: list[dict[str, Any]] = [
            {"measurand": "Current.Import", "phase": f"L{n}", "value": value, "unit": "A"}
            for n, value in ((1, current), (2, "1.0"), (3, "2.0"))
        ]
    else:
        sampled = [{"measurand": "Current.Import", "value": current, "unit": "A"}]
    sampled += [
        {"measurand": "Power.Active.Import", "value": power_kw, "unit": "kW"},
        {"measurand": "Current.Import", "value": "NaN", "unit": "A", "phase": "N"},
    ]
    return [{"timestamp": NOW, "sampledValue": sampled}]


def readings201(current: str, power_kw: str) -> list[dict[str, Any]]:
    """The same in 2.0.1 words: numbers, and unitOfMeasure (kW as W with a multiplier)."""
    sampled: list[dict[str, Any]] = [
        {"measurand": "Current.Import", "value": float(current), "unitOfMeasure": {"unit": "A"}},
        {
            "measurand": "Power.Active.Import",
            "value": float(power_kw),
            "unitOfMeasure": {"unit": "W", "multiplier": 3},
        },
    ]
    return [{"timestamp": NOW, "sampledValue": sampled}]


NOW = "2026-01-01T10:00:00Z"


async def measured(client: httpx.AsyncClient, path: str) -> tuple[Any, Any, Any]:
    shown = (await client.get(path)).json()
    [share] = shown["sessions"]
    return share["measured_current_a"], share["measured_power_w"], shown["measured_power_w"]


async def test_measured_load_comes_from_meter_values_v16(
    op: Operator, raw16: tuple[RawCharger, Charger]
) -> None:
    raw, charger = raw16
    await accepted_cards(op, "CARD-M16")
    async with op.client() as client:
        site = await make(client, chargers=[charger.charge_point_id])
        path = f"/sites/{site['site_uuid']}"
        action, start = start_report("ocpp1.6", 1, "CARD-M16", NOW)
        transaction_id = (await raw.call(action, start))["transactionId"]
        meter = {"connectorId": 1, "transactionId": transaction_id}
        await raw.call("MeterValues", {**meter, "meterValue": readings("15.5", "10.7")})
        assert await measured(client, path) == (15.5, 10700.0, 10700)
        # Only phases: the highest phase's current.
        await raw.call("MeterValues", {**meter, "meterValue": readings("12.0", "8", phases=True)})
        assert await measured(client, path) == (12.0, 8000.0, 8000)


def energy(wh: int) -> dict[str, Any]:
    return {"measurand": "Energy.Active.Import.Register", "value": str(wh), "unit": "Wh"}


async def test_a_reading_keeps_energy_and_draw_together_on_its_own_chargers_transaction(
    op: Operator, raw16: tuple[RawCharger, Charger]
) -> None:
    """One MeterValues carries the energy register and the draw, written together; a value it
    leaves out stays as it was; another charger naming this transaction's id changes nothing."""
    raw, charger = raw16
    await accepted_cards(op, "CARD-MIX")
    async with op.client() as client, raw_charger(op, "ocpp1.6") as (other, _):
        site = await make(client, chargers=[charger.charge_point_id])
        path = f"/sites/{site['site_uuid']}"
        action, start = start_report("ocpp1.6", 1, "CARD-MIX", NOW, meter_wh=1000)
        transaction_id = (await raw.call(action, start))["transactionId"]
        [session] = await transactions(client, charger.port)
        tx_path = f"/transactions/{session['transaction_uuid']}"

        both = readings("15.5", "10.7")
        both[0]["sampledValue"].append(energy(1500))
        meter = {"connectorId": 1, "transactionId": transaction_id}
        await raw.call("MeterValues", {**meter, "meterValue": both})
        assert await measured(client, path) == (15.5, 10700.0, 10700)
        assert (await client.get(tx_path)).json()["energy_wh"] == 500

        stranger = readings("31.0", "21")
        stranger[0]["sampledValue"].append(energy(9000))
        await other.call("MeterValues", {**meter, "meterValue": stranger})
        only_energy = [{"timestamp": NOW, "sampledValue": [energy(1700)]}]
        await raw.call("MeterValues", {**meter, "meterValue": only_energy})
        assert (await client.get(tx_path)).json()["energy_wh"] == 700
        assert await measured(client, path) == (15.5, 10700.0, 10700)


async def test_measured_load_comes_from_meter_values_v201(
    op: Operator, raw201: tuple[RawCharger, Charger]
) -> None:
    """2.0.1 readings come in the transaction's own events, or in MeterValues that name an EVSE
    rather than a transaction: kept on the one open there; one for another EVSE (no transaction
    open there) changes nothing."""
    raw, charger = raw201
    await accepted_cards(op, "CARD-M201")
    async with op.client() as client:
        site = await make(client, ports=[charger.port])
        path = f"/sites/{site['site_uuid']}"
        action, start = start_report("ocpp2.0.1", 1, "CARD-M201", NOW)
        await raw.call(action, start)
        update = {
            **start,
            "eventType": "Updated",
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 1,
            "meterValue": readings201("20.0", "13.8"),
        }
        update.pop("idToken")
        await raw.call(action, update)
        assert await measured(client, path) == (20.0, 13800.0, 13800)
        for evse, current, power_kw in ((1, "16", "11"), (2, "31", "21")):
            reading = {"evseId": evse, "meterValue": readings201(current, power_kw)}
            assert await raw.call("MeterValues", reading) == {}
        assert await measured(client, path) == (16.0, 11000.0, 11000)


async def test_a_sessions_own_limit_holds_on_a_site_and_its_txprofiles_are_the_balancers(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """The balancer's TxProfile overrides the start's, so it carries no more than the session's
    own limit; an operator's TxProfile, above the balancer's, is refused for a port on a site."""
    chargers = [await op.add_charger() for _ in range(2)]
    for charger in chargers:
        await online(simulators, shared_server, charger, smart_charging=True)
    async with op.client() as client:
        site = await make(client, max_current_a=45, chargers=[c.charge_point_id for c in chargers])
        path = f"/sites/{site['site_uuid']}"
        capped = await open_session(client, chargers[0].port, max_current_a=10)
        other = await open_session(client, chargers[1].port)

        async def shares() -> dict[str, Any]:
            shown = (await client.get(path)).json()
            return {s["transaction_uuid"]: s["allocated_a"] for s in shown["sessions"]}

        async def settled() -> bool:
            found = await shares()
            return found.get(other["transaction_uuid"]) == 32

        await eventually(settled)
        assert (await shares())[capped["transaction_uuid"]] == 10
        body = {
            "action": "set_charging_profile",
            "params": {"purpose": "TxProfile", "unit": "A", "limit": 32, "port": 1},
        }
        sent = await client.post(f"/chargers/{chargers[0].charge_point_id}/commands", json=body)
        assert "its balancer sets its sessions' TxProfiles" in assert_error(sent, 409)
