"""Tenant isolation, beyond tests/test_isolation.py: the attacker (operator A) probes every record
of the victim (operator B) in every state it can be in, in production and in the sandbox.

test_isolation.py covers Open and Pending records reached with their own `stg` flag. Here B also
has Closed and Failed transactions, stop queue items and an extended session, so that a 403 ("has
already ended") or a 409 ("port busy") cannot give a foreign record away; every record is also
probed with the other `stg` flag, the list is probed with every filter (`until` and each `state`
too) and with B's own cursors, Idempotency-Keys are shown to be per operator (A reusing B's key
for B's very request must not get B's answer replayed), and each operator's webhook receives
its own events only, and B's cards (production and sandbox registries) cannot be read, changed
or deleted, nor reached by an import. After all that, B's view, B's charger and B's webhook are
as before.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from chargegate.sim.charger import SimulatedCharger
from support import (
    Charger,
    Operator,
    Server,
    Simulators,
    assert_error,
    id_tag_status,
    iso,
    online,
    open_session,
    poll_queue,
    raw_charger,
    start_report,
)
from test_isolation import same_message
from test_reservations import CARD, reserve, with_cards
from test_webhooks import Receiver

IDEMPOTENCY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@dataclass
class Record:
    """One transaction of B's and the queue items that belong to it."""

    stg: bool
    state: str
    transaction_uuid: str
    queue_uuids: list[str]


@dataclass
class Tenant:
    operator: Operator
    charger: Charger
    receiver: Receiver
    records: list[Record] = field(default_factory=list)
    # Commands on its charger: (stg, queue item).
    commands: list[tuple[bool, str]] = field(default_factory=list)
    # Cards in its registry: (stg, id_tag).
    tokens: list[tuple[bool, str]] = field(default_factory=list)
    # Idempotency-Key -> the request made with it (method, path, body) and its answer.
    keys: dict[str, tuple[str, str, dict[str, Any], httpx.Response]] = field(default_factory=dict)


@dataclass
class World:
    a: Tenant  # the attacker: its charger stays offline
    b: Tenant  # the victim
    b_sim: SimulatedCharger


async def keyed(
    client: httpx.AsyncClient, owner: Tenant, key: str, method: str, path: str, body: dict[str, Any]
) -> httpx.Response:
    response = await client.request(method, path, json=body, headers={IDEMPOTENCY: key})
    assert response.status_code < 300, response.text
    owner.keys[key] = (method, path, body, response)
    return response


def flag(stg: bool) -> dict[str, Any]:
    return {"stg": True} if stg else {}


def as_query(args: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in args.items()}


async def stg_resolve(client: httpx.AsyncClient, queue_uuid: str, outcome: str) -> dict[str, Any]:
    response = await client.request(
        "GET", f"/queue/{queue_uuid}", json={"stg": True, "stg_input": outcome}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def tenant(server: Server) -> Tenant:
    """An operator with a 3-port charger and a webhook receiver of its own."""
    operator = await server.operator()
    charger = await operator.add_charger(connectors=3)
    receiver = Receiver()
    await receiver.start()
    await provisioning.add_webhook(server.settings, operator.name, receiver.url)
    return Tenant(operator, charger, receiver)


async def populate_victim(b: Tenant) -> None:
    """B's records in every state, production and sandbox, some made with Idempotency-Keys."""
    ports = b.charger.port_uuids
    async with b.operator.client() as client:
        # Production: an Open session (started and then extended with keys) on port 1, and a
        # Closed one (stopped with a key) on port 2. Port 3 has no production record at all.
        created = await keyed(
            client,
            b,
            "start-1",
            "POST",
            "/transactions",
            {"port_uuid": ports[0], "expires": iso(900)},
        )
        opened = created.json()
        assert (await poll_queue(client, opened["queue_uuid"]))["state"] == "Open"
        tx = opened["transaction_uuid"]
        extended = await keyed(
            client, b, "extend-1", "PATCH", f"/transactions/{tx}", {"expires": iso(1200)}
        )
        assert extended.status_code == 204, extended.text
        b.records.append(Record(False, "Open", tx, [opened["queue_uuid"]]))

        closing = await open_session(client, ports[1])
        tx = closing["transaction_uuid"]
        stop = await keyed(client, b, "stop-1", "PATCH", f"/transactions/{tx}", {"state": "closed"})
        assert stop.status_code == 202, stop.text
        assert (await poll_queue(client, stop.json()["id"]))["state"] == "Closed"
        b.records.append(Record(False, "Closed", tx, [closing["queue_uuid"], stop.json()["id"]]))

        # The sandbox: Failed then Open on port 1, Closed on port 2, still Pending on port 3.
        for port, outcome in ((ports[0], "Failure"), (ports[0], "Success"), (ports[1], "Success")):
            body = {"port_uuid": port, "expires": iso(900), "stg": True}
            response = await keyed(
                client, b, f"stg-{len(b.records)}", "POST", "/transactions", body
            )
            assert response.status_code == 201, response.text
            created = response.json()
            body = await stg_resolve(client, created["queue_uuid"], outcome)
            state = "Failed" if outcome == "Failure" else "Open"
            assert body.get("state", "Failed") == state, body
            b.records.append(
                Record(True, state, created["transaction_uuid"], [created["queue_uuid"]])
            )
        last = b.records[-1]
        stop = await keyed(
            client,
            b,
            "stg-stop",
            "PATCH",
            f"/transactions/{last.transaction_uuid}",
            {"state": "closed", "stg": True},
        )
        assert stop.status_code == 202, stop.text
        assert (await stg_resolve(client, stop.json()["id"], "Success"))["state"] == "Closed"
        last.state = "Closed"
        last.queue_uuids.append(stop.json()["id"])
        # A ClearCache its charger answered, and a sandbox one left in progress.
        for stg in (False, True):
            sent = await keyed(
                client,
                b,
                f"command-{stg}",
                "POST",
                f"/chargers/{b.charger.charge_point_id}/commands",
                {"command": "clear_cache", "stg": stg},
            )
            assert sent.status_code == 202, sent.text
            b.commands.append((stg, sent.json()["id"]))
        assert (await poll_queue(client, b.commands[0][1]))["status"] == "SUCCESS"
        # A card in each registry, named like a uuid so that a probe can name an unknown one.
        for stg in (False, True):
            id_tag = str(uuid.uuid4())
            card = {"id_tag": id_tag, "status": "Accepted", "note": "B's", **flag(stg)}
            registered = await client.post("/tokens", json=card)
            assert registered.status_code == 201, registered.text
            b.tokens.append((stg, id_tag))
        pending = await client.request(
            "POST",
            "/transactions",
            json={"port_uuid": ports[2], "expires": iso(900), "stg": True},
        )
        assert pending.status_code == 201, pending.text
        b.records.append(
            Record(
                True,
                "Pending",
                pending.json()["transaction_uuid"],
                [pending.json()["queue_uuid"]],
            )
        )


@pytest.fixture
async def world(shared_server: Server, simulators: Simulators) -> AsyncIterator[World]:
    a, b = await tenant(shared_server), await tenant(shared_server)
    try:
        # Meter values would change energy_wh while we compare: one reading an hour is enough.
        b_sim = await online(simulators, shared_server, b.charger, meter_interval_s=3600)
        await populate_victim(b)
        await own_events_in(b)
        yield World(a, b, b_sim)
    finally:
        await a.receiver.stop()
        await b.receiver.stop()


# The event a transaction's state was last reported with.
STATE_EVENTS = {
    "Open": "transaction.opened",
    "Closed": "transaction.closed",
    "Failed": "transaction.failed",
}


async def own_events_in(b: Tenant) -> None:
    """Waits until B's webhook has every event B's own requests and charger caused, so that a
    comparison sees only what A's requests cause. Each transaction's (and port's) events are
    delivered in order, so its last one being in means all of them are."""
    expected: set[tuple[str, ...]] = set()
    for record in b.records:
        if record.state in STATE_EVENTS:
            expected.add(("transaction", record.transaction_uuid, STATE_EVENTS[record.state]))
            expected |= {("queue", queue_uuid) for queue_uuid in record.queue_uuids}
    expected |= {("queue", queue_uuid) for stg, queue_uuid in b.commands if not stg}
    async with b.operator.client() as client:
        ports = await client.get("/ports")
        assert ports.status_code == 200, ports.text
    expected |= {("port", p["port_uuid"], p["status"]) for p in ports.json() if p["status"]}
    await until(lambda: expected <= delivered(b.receiver), timeout=30)


def delivered(receiver: Receiver) -> set[tuple[str, ...]]:
    """What the receiver has been told: transaction events, resolved queue items, and each
    port's latest status."""
    out: set[tuple[str, ...]] = set()
    port_status: dict[str, str] = {}
    for event in receiver.events():
        data = event["data"]
        if event["type"] == "port.status_changed":
            port_status[data["port_uuid"]] = data["status"]
        elif event["type"] == "queue_item.resolved":
            out.add(("queue", data["id"]))
        else:
            out.add(("transaction", data["transaction_uuid"], event["type"]))
    return out | {("port", port, status) for port, status in port_status.items()}


async def until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def types(receiver: Receiver, staging: bool | None = None) -> list[str]:
    return [e["type"] for e in receiver.events() if staging is None or e["staging"] is staging]


# What the victim's charger may change meanwhile: a meter reading, a heartbeat.
CHANGING = {"energy_wh", "last_seen"}


def without_energy(value: Any) -> Any:
    """A body with energy_wh (and a charger's last_seen) left out: the victim's charger may
    report a meter reading, or a heartbeat."""
    if isinstance(value, dict):
        return {k: without_energy(v) for k, v in value.items() if k not in CHANGING}
    if isinstance(value, list):
        return [without_energy(v) for v in value]
    return value


async def victim_view(world: World) -> dict[str, Any]:
    """Everything of B's that A's requests could have changed, as B sees it."""
    b = world.b
    view: dict[str, Any] = {}
    async with b.operator.client() as client:

        async def get(path: str, args: dict[str, Any]) -> Any:
            response = await client.request("GET", path, json=args or None)
            return response.status_code, without_energy(response.json())

        for record in b.records:
            view[record.transaction_uuid] = await get(
                f"/transactions/{record.transaction_uuid}", flag(record.stg)
            )
            for queue_uuid in record.queue_uuids:
                view[queue_uuid] = await get(f"/queue/{queue_uuid}", flag(record.stg))
        for stg, queue_uuid in b.commands:
            view[queue_uuid] = await get(f"/queue/{queue_uuid}", flag(stg))
        for port in b.charger.port_uuids:
            for stg in (False, True):
                view[f"list {port} {stg}"] = await get(
                    "/transactions", {"port_uuid": port, "limit": 0, **flag(stg)}
                )
        view["ports"] = await get("/ports", {})
        for stg in (False, True):
            view[f"tokens {stg}"] = await get("/tokens", {"limit": 0, **flag(stg)})
        view["settings"] = await get("/settings", {})
        view["charger settings"] = await get(f"/chargers/{b.charger.charge_point_id}/settings", {})
        view["firmware"] = await get(f"/chargers/{b.charger.charge_point_id}/firmware", {})
        view["charger"] = await get(f"/chargers/{b.charger.charge_point_id}", {})
        view["chargers"] = await get("/chargers", {})
        view["webhooks"] = await get("/webhooks", {})
    sim = world.b_sim
    view["charger sim"] = (
        sim.start_requests,
        sim.stop_requests,
        len(sim.requests("ClearCache")),
        len(sim.requests("SendLocalList")),
        len(sim.requests("UpdateFirmware")),
        len(sim.requests("GetDiagnostics")) + len(sim.requests("GetLog")),
    )
    view["events"] = sorted(e["id"] for e in b.receiver.events())
    return view


async def settled_victim_view(world: World) -> dict[str, Any]:
    # A webhook event caused by A's requests would be out within a poll interval (1 s in tests).
    await asyncio.sleep(1.5)
    return await victim_view(world)


def checked(before: dict[str, Any], world: World) -> None:
    """The premise of the comparison: B's records really are in the states probed."""
    for record in world.b.records:
        status, body = before[record.transaction_uuid]
        assert status == 200 and body["state"] == record.state, (record, body)
    # Two starts, one stop and one ClearCache.
    assert before["charger sim"] == (2, 1, 1, 0, 0, 0), before["charger sim"]
    assert before["charger"][1]["online"] is True, before["charger"]
    states = {(r.stg, r.state) for r in world.b.records}
    assert states == {
        (False, "Open"),
        (False, "Closed"),
        (True, "Failed"),
        (True, "Open"),
        (True, "Closed"),
        (True, "Pending"),
    }


def probes(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, httpx arguments) for every request A can aim at B's records."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    b = world.b
    for record in b.records:
        tx = record.transaction_uuid
        for stg in (record.stg, not record.stg):
            out.append(("GET", f"/transactions/{tx}", {"json": flag(stg) or None}))
            out.append(("GET", f"/transactions/{tx}", {"params": as_query(flag(stg))}))
            # Ended transactions would say 403 to their owner, an extended one 204: to A, 404.
            for change in ({"state": "closed"}, {"state": "CLOSED"}, {"expires": iso(7200)}):
                out.append(("PATCH", f"/transactions/{tx}", {"json": {**change, **flag(stg)}}))
            for queue_uuid in record.queue_uuids:
                inputs: tuple[str | None, ...] = (None, "Success", "Failure", "InProgress")
                for stg_input in inputs if stg else (None,):
                    args = {**flag(stg), **({"stg_input": stg_input} if stg_input else {})}
                    out.append(("GET", f"/queue/{queue_uuid}", {"json": args or None}))
                    out.append(("GET", f"/queue/{queue_uuid}", {"params": as_query(args)}))
    for stg, queue_uuid in b.commands:
        for as_stg in (stg, not stg):
            out.append(("GET", f"/queue/{queue_uuid}", {"json": flag(as_stg) or None}))
        if stg:
            for stg_input in ("Success", "Failure"):
                args = {**flag(stg), "stg_input": stg_input}
                out.append(("GET", f"/queue/{queue_uuid}", {"params": as_query(args)}))
    for stg, id_tag in b.tokens:
        for as_stg in (stg, not stg):
            out.append(("GET", f"/tokens/{id_tag}", {"params": as_query(flag(as_stg))}))
            change = {"status": "Blocked", "note": "A's", **flag(as_stg)}
            out.append(("PATCH", f"/tokens/{id_tag}", {"json": change}))
            out.append(("DELETE", f"/tokens/{id_tag}", {"params": as_query(flag(as_stg))}))
    for stg in (False, True):
        body = {"command": "clear_cache", **flag(stg)}
        out.append(("POST", f"/chargers/{b.charger.charge_point_id}/commands", {"json": body}))
        settings = f"/chargers/{b.charger.charge_point_id}/settings"
        out.append(("GET", settings, {"params": as_query(flag(stg))}))
        # Its local list: neither read nor resent.
        local_list = f"/chargers/{b.charger.charge_point_id}/local-list"
        out.append(("GET", local_list, {"params": as_query(flag(stg))}))
        out.append(("POST", local_list, {"json": flag(stg) or None}))
        # Its firmware and diagnostics: neither read nor asked for.
        out.append(
            (
                "GET",
                f"/chargers/{b.charger.charge_point_id}/firmware",
                {"params": as_query(flag(stg))},
            )
        )
        for action in ("update_firmware", "get_diagnostics"):
            body = {"action": action, "params": {"location": "https://a.example/f"}, **flag(stg)}
            out.append(("POST", f"/chargers/{b.charger.charge_point_id}/commands", {"json": body}))
        # Its configuration: neither shown, read nor changed.
        configuration = f"/chargers/{b.charger.charge_point_id}/configuration"
        out.append(("GET", configuration, {"params": as_query(flag(stg))}))
        commands = f"/chargers/{b.charger.charge_point_id}/commands"
        for action, params in (
            ("get_configuration", {}),
            ("change_configuration", {"key": "HeartbeatInterval", "value": "1"}),
        ):
            body = {"action": action, "params": params, **flag(stg)}
            out.append(("POST", commands, {"json": body}))
    # The charger itself: neither read, nor given a password or ports, disabled or deleted.
    charger = f"/chargers/{b.charger.charge_point_id}"
    out.append(("GET", charger, {}))
    for change in ({"password": None}, {"password": "A's"}, {"connectors": 1}, {"disabled": True}):
        out.append(("PATCH", charger, {"json": change}))
    out.append(("DELETE", charger, {}))
    # (A change with stg is refused before any charger is looked up: settings have no sandbox.)
    for policy in ("accept", "reject", None):
        settings = f"/chargers/{b.charger.charge_point_id}/settings"
        out.append(("PATCH", settings, {"json": {"unknown_tokens": policy}}))
    for port in b.charger.port_uuids:
        for stg in (False, True):
            # Idle, busy in production or busy in the sandbox: 404 all the same, never 201/409.
            body = {"port_uuid": port, "expires": iso(600), **flag(stg)}
            out.append(("POST", "/transactions", {"json": body}))
            for extra in LIST_FILTERS:
                args = {"port_uuid": port, "limit": 1, **extra, **flag(stg)}
                out.append(("GET", "/transactions", {"json": args}))
                out.append(("GET", "/transactions", {"params": as_query(args)}))
    return out


# Filters that turn "no match" into 200 [] for one's own port: for another's port, still 404.
LIST_FILTERS: list[dict[str, Any]] = [
    {},
    {"limit": 0},
    *({"state": state} for state in ("Pending", "Open", "Closed", "Failed")),
    {"since": iso(-3600)},
    {"until": iso(3600)},
    {"since": iso(3600)},  # matches nothing even for the owner
    {"since": iso(-3600), "until": iso(3600), "state": "Closed"},
]


def swapped(kwargs: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(kwargs).replace(old, new))
    return result


def victim_uuid(path: str, kwargs: dict[str, Any], world: World) -> str:
    """The uuid of B's that a probe names, for comparing it with an unknown one."""
    text = path + json.dumps(kwargs)
    known = [p for p in world.b.charger.port_uuids if p in text]
    known += [r.transaction_uuid for r in world.b.records if r.transaction_uuid in text]
    known += [q for r in world.b.records for q in r.queue_uuids if q in text]
    known += [q for _, q in world.b.commands if q in text]
    known += [tag for _, tag in world.b.tokens if tag in text]
    if world.b.charger.charge_point_id in text:
        known.append(world.b.charger.charge_point_id)
    assert len(known) == 1, (path, kwargs)
    return known[0]


async def test_every_foreign_record_is_404_in_both_modes_and_stays_as_it_was(
    world: World,
) -> None:
    before = await victim_view(world)
    checked(before, world)
    requests = probes(world)
    assert len(requests) > 200
    async with world.a.operator.client() as client:
        for method, path, kwargs in requests:
            foreign = victim_uuid(path, kwargs, world)
            unknown = str(uuid.uuid4())
            same_message(
                await client.request(method, path, **kwargs),
                foreign,
                await client.request(
                    method,
                    path.replace(foreign, unknown),
                    **swapped(kwargs, foreign, unknown),
                ),
                unknown,
            )
    assert await settled_victim_view(world) == before


async def test_idempotency_keys_are_per_operator(world: World) -> None:
    before = await victim_view(world)
    checked(before, world)
    b = world.b
    # 4 production and 5 sandbox requests: starts, extend, stops, commands.
    assert len(b.keys) == 9
    async with world.a.operator.client() as client:
        # B's very requests (same method, path and body bytes) under B's keys. Were keys
        # global, A would get B's answers replayed, and with them B's uuids.
        for key, (method, path, body, _) in b.keys.items():
            refused = await client.request(method, path, json=body, headers={IDEMPOTENCY: key})
            assert_error(refused, 404)
            assert REPLAYED not in refused.headers
        # The same keys on A's own port are fresh requests of A's (not a 422 for "another
        # request"), in both modes.
        for key, stg in (("start-1", False), ("stg-2", True)):
            mine = await client.request(
                "POST",
                "/transactions",
                json={"port_uuid": world.a.charger.port, "expires": iso(900), **flag(stg)},
                headers={IDEMPOTENCY: key},
            )
            assert mine.status_code == 201, mine.text
            assert REPLAYED not in mine.headers
            assert mine.json()["transaction_uuid"] not in {r.transaction_uuid for r in b.records}
        # B's PATCH keys on A's own PATCHes (of A's sandbox session: A's charger is offline,
        # so its production start has already failed).
        tx = mine.json()["transaction_uuid"]
        for key, change, status in (
            ("extend-1", {"expires": iso(1200)}, 204),
            ("stop-1", {"state": "closed"}, 202),
        ):
            own = await client.request(
                "PATCH",
                f"/transactions/{tx}",
                json={**change, "stg": True},
                headers={IDEMPOTENCY: key},
            )
            assert own.status_code == status, own.text
            assert REPLAYED not in own.headers
    # A's use of the keys left B's records alone: B's retries still get B's first answers.
    async with b.operator.client() as client:
        for key, (method, path, body, first) in b.keys.items():
            retry = await client.request(method, path, json=body, headers={IDEMPOTENCY: key})
            assert retry.headers.get(REPLAYED) == "true", (key, retry.text)
            assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert await settled_victim_view(world) == before


async def test_foreign_cursors_and_the_port_list_show_only_own_data(world: World) -> None:
    a, b = world.a, world.b
    async with a.operator.client() as client:
        for stg in (False, True):
            for port in a.charger.port_uuids[:2]:
                created = await client.request(
                    "POST",
                    "/transactions",
                    json={"port_uuid": port, "expires": iso(900), **flag(stg)},
                )
                assert created.status_code == 201, created.text
        own = {
            stg: [
                t["transaction_uuid"]
                for t in (
                    await client.request(
                        "GET",
                        "/transactions",
                        json={"port_uuid": a.charger.port, "limit": 0, **flag(stg)},
                    )
                ).json()
            ]
            for stg in (False, True)
        }
    cursors: list[tuple[bool, str]] = []
    async with b.operator.client() as client:
        for stg in (False, True):
            page = await client.request(
                "GET",
                "/transactions",
                json={"port_uuid": b.charger.port, "limit": 1, **flag(stg)},
            )
            assert page.status_code == 200, page.text
            cursors.append((stg, page.headers["X-Next-Cursor"]))
    async with a.operator.client() as client:
        for stg, cursor in cursors:
            for args in ({"cursor": cursor}, {"cursor": cursor, "until": iso(60)}):
                # On A's own port B's cursor is only a position in time: A's own rows or none.
                query = {"port_uuid": a.charger.port, "limit": 5, **args, **flag(stg)}
                page = await client.request("GET", "/transactions", params=as_query(query))
                assert page.status_code == 200, page.text
                assert {t["transaction_uuid"] for t in page.json()} <= set(own[stg])
                assert {t["port_uuid"] for t in page.json()} <= {a.charger.port}
        for args in ({}, {"stg": True}):
            for ports in (
                await client.request("GET", "/ports", json=args or None),
                await client.request("GET", "/ports", params=as_query(args)),
            ):
                assert ports.status_code == 200, ports.text
                assert {p["port_uuid"] for p in ports.json()} == set(a.charger.port_uuids)
                assert {p["charge_point_id"] for p in ports.json()} == {a.charger.charge_point_id}


async def test_each_webhook_receives_its_own_operator_events_only(world: World) -> None:
    a, b = world.a, world.b
    before = await victim_view(world)
    async with a.operator.client() as client:
        # A's events, of every kind it can cause without a charger: a sandbox session opened and
        # closed, and a production start that fails (A's charger is offline).
        created = await client.request(
            "POST",
            "/transactions",
            json={"port_uuid": a.charger.port, "expires": iso(900), "stg": True},
        )
        await stg_resolve(client, created.json()["queue_uuid"], "Success")
        tx = created.json()["transaction_uuid"]
        stop = await client.request(
            "PATCH", f"/transactions/{tx}", json={"state": "closed", "stg": True}
        )
        await stg_resolve(client, stop.json()["id"], "Success")
        failed = await client.request(
            "POST",
            "/transactions",
            json={"port_uuid": a.charger.port_uuids[1], "expires": iso(900)},
        )
        assert (await poll_queue(client, failed.json()["queue_uuid"]))["status"] == "FAILURE"
    await until(lambda: "transaction.failed" in types(a.receiver, staging=False))
    await until(lambda: "transaction.closed" in types(a.receiver, staging=True))
    a_text = json.dumps(a.receiver.events())
    b_text = json.dumps(b.receiver.events())
    b_uuids = {*b.charger.port_uuids, b.charger.charge_point_id}
    b_uuids |= {r.transaction_uuid for r in b.records}
    b_uuids |= {q for r in b.records for q in r.queue_uuids}
    a_uuids = {*a.charger.port_uuids, a.charger.charge_point_id, tx, created.json()["queue_uuid"]}
    a_uuids |= {stop.json()["id"], failed.json()["transaction_uuid"], failed.json()["queue_uuid"]}
    assert not [u for u in b_uuids if u in a_text]
    assert not [u for u in a_uuids if u in b_text]
    # Both receivers did get their own operator's events: the checks above are not vacuous.
    assert tx in a_text and failed.json()["transaction_uuid"] in a_text
    # (A start still pending has caused no event yet.)
    assert all(r.transaction_uuid in b_text for r in b.records if r.state != "Pending")
    assert await settled_victim_view(world) == before


async def test_an_import_of_foreign_cards_touches_only_the_importers_own(world: World) -> None:
    """A imports B's very cards (letter case aside), in each registry and mode: A gets cards of
    its own, never a 409 that would tell B's apart, and B's cards stay as they were."""
    before = await victim_view(world)
    b_tags = [tag for _, tag in world.b.tokens]
    async with world.a.operator.client() as client:
        for stg in (False, True):
            rows = [{"id_tag": tag.upper(), "status": "Blocked", "note": "A's"} for tag in b_tags]
            for mode, created in (("create", len(rows)), ("upsert", 0)):
                body = {"tokens": rows, "mode": mode, **flag(stg)}
                answer = await client.post("/tokens:import", json=body)
                assert answer.status_code == 200, answer.text
                assert answer.json() == {
                    "created": created,
                    "updated": 0,
                    "unchanged": len(rows) - created,
                }
            listed = await client.get("/tokens", params={"limit": 0, **as_query(flag(stg))})
            assert {t["id_tag"] for t in listed.json()} == {tag.upper() for tag in b_tags}
    assert await settled_victim_view(world) == before


async def test_chargers_and_webhooks_are_the_callers_own(world: World) -> None:
    """A lists its own charger and webhook only; B's webhook is as unknown to A as one that
    does not exist, and B's charger id is taken without a word of whose it is."""
    before = await victim_view(world)
    (b_webhook,) = before["webhooks"][1]
    async with world.a.operator.client() as client:
        listed = (await client.get("/chargers")).json()
        assert [c["charge_point_id"] for c in listed] == [world.a.charger.charge_point_id]
        assert [w["url"] for w in (await client.get("/webhooks")).json()] == [world.a.receiver.url]
        foreign = b_webhook["id"]
        unknown = foreign + 100_000
        same_message(
            await client.delete(f"/webhooks/{foreign}"),
            str(foreign),
            await client.delete(f"/webhooks/{unknown}"),
            str(unknown),
        )
        taken = await client.post(
            "/chargers", json={"charge_point_id": world.b.charger.charge_point_id, "connectors": 1}
        )
        assert world.b.operator.name not in assert_error(taken, 409)
    assert await settled_victim_view(world) == before


async def test_settings_are_the_callers_own(world: World) -> None:
    """A's /1.2/settings are A's: changing them changes nothing of B's, and B's charger still
    answers by B's policies."""
    before = await victim_view(world)
    assert before["settings"][1]["unknown_tokens"] == "reject"
    mine = {
        "unknown_tokens": "accept",
        "concurrent_tx": "off",
        "blocked_sessions": "stop",
        "clear_cache_on_block": False,
    }
    async with world.a.operator.client() as client:
        answer = await client.patch("/settings", json=mine)
        assert answer.status_code == 200 and answer.json() == mine
        assert (await client.get("/settings")).json() == mine
        own = await client.get(f"/chargers/{world.a.charger.charge_point_id}/settings")
        assert own.json()["applied_unknown_tokens"] == "accept"
    assert await world.b_sim.present_card(3, "CARD-NOBODY-HAS") == "Invalid"
    assert await settled_victim_view(world) == before


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_another_operators_card_session_is_404_and_never_listed(
    shared_server: Server, subprotocol: str
) -> None:
    """B's charger runs a session on a card that A has in its own registry too: A can neither
    read nor change it, its id_tag filter shows only A's own sessions, and B's session and
    charger are left alone."""
    a, b = await shared_server.operator(), await shared_server.operator()
    for operator in (a, b):
        async with operator.client() as client:
            card = {"id_tag": "CARD-BOTH", "status": "Accepted"}
            assert (await client.post("/tokens", json=card)).status_code == 201
    by_card = {"id_tag": "card-both", "limit": 0}
    async with (
        raw_charger(b, subprotocol) as (raw, charger),
        b.client() as theirs,
        a.client() as client,
    ):
        action, start = start_report(subprotocol, 1, "CARD-BOTH", iso(-60))
        assert id_tag_status(await raw.call(action, start)) == "Accepted"
        [session] = (await theirs.get("/transactions", params=by_card)).json()
        foreign = session["transaction_uuid"]
        unknown = str(uuid.uuid4())
        path = f"/transactions/{foreign}"
        for method, body in (
            ("GET", None),
            ("PATCH", {"expires": iso(600)}),
            ("PATCH", {"state": "closed"}),
        ):
            refused = await client.request(method, path, json=body)
            known_not = await client.request(method, path.replace(foreign, unknown), json=body)
            same_message(refused, foreign, known_not, unknown)
        listed = await client.get("/transactions", params=by_card)
        assert listed.status_code == 200 and listed.json() == [], listed.text
        on_their_port = await client.get(
            "/transactions", params={**by_card, "port_uuid": charger.port}
        )
        assert "EVSE not found" in assert_error(on_their_port, 404)

        assert (await theirs.get(path)).json() == session
        assert not any(frame[2].endswith("StopTransaction") for frame in raw.requests)


async def test_another_operators_reservations_are_404(shared_server: Server) -> None:
    """B's reservations (real and sandbox) and B's ports and charger, probed by A: every read,
    cancellation and reservation is the 404 of a record that does not exist, A's list and B's
    cursors show A nothing of B's, and B's reservations stay as they were."""
    a, b = await shared_server.operator(), await shared_server.operator()
    a_charger, b_charger = await a.add_charger(), await b.add_charger(connectors=2)
    for owner in (a, b):
        await with_cards(owner)
    async with b.client() as client:
        # B's charger is offline: the real one fails at once, the sandbox one stays pending.
        made = [
            await reserve(client, port_uuid=b_charger.port),
            await reserve(client, port_uuid=b_charger.port_uuids[1], stg=True),
            await reserve(client, port_uuid=b_charger.port, stg=True),
        ]
        before = [await listed(client, stg) for stg in (False, True)]
        page = await client.get("/reservations", params={"stg": "true", "limit": 1})
    unknown = str(uuid.uuid4())
    async with a.client() as client:
        for stg in (False, True):
            missing = await client.get(f"/reservations/{unknown}", params=as_query(flag(stg)))
            for reservation_uuid in (m["reservation_uuid"] for m in made):
                path = f"/reservations/{reservation_uuid}"
                found = await client.get(path, params=as_query(flag(stg)))
                same_message(found, reservation_uuid, missing, unknown)
                cancelled = await client.patch(path, json={"state": "cancelled", **flag(stg)})
                assert_error(cancelled, 404)
            for body in (
                {"port_uuid": b_charger.port},
                {"charge_point_id": b_charger.charge_point_id},
            ):
                sent = {**body, "id_tag": CARD, "expires": iso(600), **flag(stg)}
                assert_error(await client.post("/reservations", json=sent), 404)
            on_port = {"port_uuid": b_charger.port, **flag(stg)}
            assert_error(await client.get("/reservations", params=as_query(on_port)), 404)
            assert (await client.get("/reservations", params=as_query(flag(stg)))).json() == []
        cursor = {"stg": "true", "cursor": page.headers["X-Next-Cursor"]}
        assert (await client.get("/reservations", params=cursor)).json() == []
        own = await reserve(client, port_uuid=a_charger.port, stg=True)
        assert [r["reservation_uuid"] for r in await listed(client, True)] == [
            own["reservation_uuid"]
        ]
    async with b.client() as client:
        after = [await listed(client, stg) for stg in (False, True)]
    assert after == before


async def listed(client: httpx.AsyncClient, stg: bool) -> list[dict[str, Any]]:
    response = await client.get("/reservations", params=as_query(flag(stg)))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found
