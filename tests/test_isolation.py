"""Operators are isolated: another operator's uuids behave exactly like uuids that do not exist.

Operator B gets 404 for every port, transaction and queue item of operator A, in production and
in the sandbox, with messages that do not tell "someone else's" from "no such thing"; and none of
B's requests changes anything of A's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chargegate.sim.charger import SimulatedCharger
from support import Charger, Operator, Server, Simulators, assert_error, iso, online, poll_queue


@dataclass
class World:
    """Operator A with a live charger, an Open production session and an Open sandbox one."""

    a: Operator
    b: Operator
    charger: Charger
    sim: SimulatedCharger
    prod: dict[str, Any]
    stg: dict[str, Any]
    stg_pending: dict[str, Any]


async def snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Everything of A's that B's requests could have changed."""

    async def get(path: str, **body: Any) -> Any:
        response = await client.request("GET", path, json=body or None)
        assert response.status_code == 200, response.text
        return response.json()

    def stable(tx: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in tx.items() if k != "energy_wh"}  # meter values may arrive

    return {
        "prod_tx": stable(await get(f"/transactions/{world.prod['transaction_uuid']}")),
        "prod_queue": stable(await get(f"/queue/{world.prod['queue_uuid']}")),
        "stg_tx": stable(await get(f"/transactions/{world.stg['transaction_uuid']}", stg=True)),
        "stg_queue": stable(await get(f"/queue/{world.stg['queue_uuid']}", stg=True)),
        "pending_queue": await get(f"/queue/{world.stg_pending['queue_uuid']}", stg=True),
        "pending_tx": stable(
            await get(f"/transactions/{world.stg_pending['transaction_uuid']}", stg=True)
        ),
        "prod_list": [
            stable(t) for t in await get("/transactions", port_uuid=world.charger.port, limit=0)
        ],
        "stg_list": [
            stable(t)
            for t in await get(
                "/transactions", port_uuid=world.charger.port_uuids[1], limit=0, stg=True
            )
        ],
        "ports": await get("/ports"),
    }


@pytest.fixture
async def world(shared_server: Server, simulators: Simulators) -> World:
    a = await shared_server.operator()
    b = await shared_server.operator()
    await b.add_charger()  # B has ports of its own
    charger = await a.add_charger(connectors=2)
    sim = await online(simulators, shared_server, charger)
    async with a.client() as client:
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(900)}
        )
        prod = response.json()
        assert (await poll_queue(client, prod["queue_uuid"]))["state"] == "Open"
        response = await client.post(
            "/transactions",
            json={"port_uuid": charger.port_uuids[1], "expires": iso(900), "stg": True},
        )
        stg = response.json()
        opened = await client.request(
            "GET", f"/queue/{stg['queue_uuid']}", json={"stg": True, "stg_input": "Success"}
        )
        assert opened.json()["state"] == "Open"
        # A sandbox start still undecided: B must not be able to decide it.
        response = await client.post(
            "/transactions",
            json={"port_uuid": charger.port, "expires": iso(900), "stg": True},
        )
        stg_pending = response.json()
        assert response.status_code == 201, response.text
    return World(a, b, charger, sim, prod, stg, stg_pending)


def same_message(
    response: httpx.Response, foreign: str, unknown_response: httpx.Response, unknown: str
) -> None:
    """B's 404 for A's uuid reads exactly like its 404 for a uuid that does not exist."""
    left = assert_error(response, 404).replace(foreign, "<uuid>")
    right = assert_error(unknown_response, 404).replace(unknown, "<uuid>")
    assert left == right, (left, right)


async def test_other_operator_gets_404_for_everything(world: World) -> None:
    async with world.a.client() as client:
        before = await snapshot(client, world)
    unknown = str(uuid.uuid4())
    port = world.charger.port
    stg_port = world.charger.port_uuids[1]
    async with world.a.client() as client:
        first_page = await client.get("/transactions", params={"port_uuid": port, "limit": 1})
        cursor = {"cursor": first_page.headers["X-Next-Cursor"], "since": iso(-3600)}
    async with world.b.client() as b:
        for stg in (False, True):
            flag = {"stg": True} if stg else {}
            # POST on A's port (idle in the sandbox, busy in production: still 404, never 409).
            for port_uuid in (port, stg_port):
                mine = await b.post(
                    "/transactions", json={"port_uuid": port_uuid, "expires": iso(600), **flag}
                )
                none = await b.post(
                    "/transactions", json={"port_uuid": unknown, "expires": iso(600), **flag}
                )
                same_message(mine, port_uuid, none, unknown)
            # List A's ports, in a JSON body and in the query string, also with the pages and
            # filters beyond the seed (A's own cursor included).
            for port_uuid in (port, stg_port):
                for limit, extra in ((0, {}), (1, {}), (1, {"state": "Open"}), (1, cursor)):
                    args = {"port_uuid": port_uuid, "limit": limit, **extra, **flag}
                    none_args = {**args, "port_uuid": unknown}
                    same_message(
                        await b.request("GET", "/transactions", json=args),
                        port_uuid,
                        await b.request("GET", "/transactions", json=none_args),
                        unknown,
                    )
                    query = {
                        k: str(v).lower() if isinstance(v, bool) else str(v)
                        for k, v in args.items()
                    }
                    assert_error(await b.get("/transactions", params=query), 404)
            # A's transactions and queue items.
            for created in (world.prod, world.stg, world.stg_pending):
                tx_uuid, queue_uuid = created["transaction_uuid"], created["queue_uuid"]
                same_message(
                    await b.request("GET", f"/transactions/{tx_uuid}", json=flag or None),
                    tx_uuid,
                    await b.request("GET", f"/transactions/{unknown}", json=flag or None),
                    unknown,
                )
                for payload in ({"state": "closed"}, {"expires": iso(3600)}):
                    same_message(
                        await b.patch(f"/transactions/{tx_uuid}", json={**payload, **flag}),
                        tx_uuid,
                        await b.patch(f"/transactions/{unknown}", json={**payload, **flag}),
                        unknown,
                    )
                inputs: tuple[str | None, ...] = ("Success", "Failure", None) if stg else (None,)
                for stg_input in inputs:
                    args = {**flag, **({"stg_input": stg_input} if stg_input else {})}
                    same_message(
                        await b.request("GET", f"/queue/{queue_uuid}", json=args or None),
                        queue_uuid,
                        await b.request("GET", f"/queue/{unknown}", json=args or None),
                        unknown,
                    )
                    query = {
                        k: str(v).lower() if isinstance(v, bool) else v for k, v in args.items()
                    }
                    assert_error(await b.get(f"/queue/{queue_uuid}", params=query), 404)
    async with world.a.client() as client:
        after = await snapshot(client, world)
    assert after == before
    assert before["prod_tx"]["state"] == "Open"
    assert before["stg_tx"]["state"] == "Open"
    assert before["pending_queue"]["status"] == "IN PROGRESS"
    assert world.sim.start_requests == 1
    assert world.sim.stop_requests == 0


async def test_ports_show_only_own(shared_server: Server, world: World) -> None:
    async with world.a.client() as a, world.b.client() as b:
        a_ports = {p["port_uuid"] for p in (await a.get("/ports")).json()}
        b_ports = {p["port_uuid"] for p in (await b.get("/ports")).json()}
    assert a_ports == set(world.charger.port_uuids)
    assert len(b_ports) == 1
    assert not a_ports & b_ports
    loner = await shared_server.operator()
    async with loner.client() as c:
        assert (await c.get("/ports")).json() == []


async def test_each_operator_keeps_working_on_its_own_ports(
    shared_server: Server, world: World, simulators: Simulators
) -> None:
    b_charger = await world.b.add_charger()
    b_sim = await online(simulators, shared_server, b_charger)
    async with world.b.client() as b:
        created = await b.post(
            "/transactions", json={"port_uuid": b_charger.port, "expires": iso(600)}
        )
        assert created.status_code == 201, created.text
        body = await poll_queue(b, created.json()["queue_uuid"])
        assert body["state"] == "Open"
        # A cannot see B's session either.
        tx_uuid = created.json()["transaction_uuid"]
    async with world.a.client() as a:
        assert_error(await a.get(f"/transactions/{tx_uuid}"), 404)
        assert_error(await a.patch(f"/transactions/{tx_uuid}", json={"state": "closed"}), 404)
        assert_error(await a.get(f"/queue/{created.json()['queue_uuid']}"), 404)
    assert b_sim.stop_requests == 0
    assert world.sim.start_requests == 1


async def test_two_keys_of_one_operator_see_the_same_data(
    shared_server: Server, world: World
) -> None:
    second = await shared_server.operator(world.a.name)
    assert second.key != world.a.key
    async with second.client() as client:
        response = await client.get(f"/transactions/{world.prod['transaction_uuid']}")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "Open"
