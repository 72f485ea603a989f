"""Operating a fleet through the API: chargers (registered, listed, given new passwords and
ports, disabled, deleted), webhooks, and the role of an API key.

Chargers made here connect for real: simulated ones in both OCPP versions, the independent
strict charger (tests/js/strict_charger.mjs) with a password the API generated, and raw
handshakes where only the handshake's answer matters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chargegate import provisioning
from chargegate.api import roles
from chargegate.api.auth import Operator as OperatorDependency
from chargegate.api.auth import operator_id
from chargegate.domain.roles import Role
from chargegate.server import create_app
from chargegate.sim.dialects import FIRMWARE_VERSION, SERIAL_NUMBER
from support import (
    Charger,
    Operator,
    Server,
    Simulators,
    assert_error,
    eventually,
    iso,
    online,
    poll_queue,
    poll_transaction,
    start_session,
    stop_session,
    transactions,
)
from test_charger_credentials import basic, cli, handshake
from test_independent_charger import V16, V201, Dialect, NodeCharger, running

# The seed's endpoints: the only ones a `sessions` key may call.
SEED_PATHS = {
    "/1.2/transactions",
    "/1.2/transactions/{transaction_uuid}",
    "/1.2/queue/{queue_uuid}",
    "/1.2/ports",
}


def new_id() -> str:
    return f"CP-{uuid.uuid4().hex[:10]}"


async def add(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("charge_point_id", new_id())
    body.setdefault("connectors", 1)
    created = await client.post("/chargers", json=body)
    assert created.status_code == 201, created.text
    added: dict[str, Any] = created.json()
    return added


async def charger(client: httpx.AsyncClient, charge_point_id: str) -> dict[str, Any]:
    """The charger's own GET, less its configuration (test_configuration checks that): the
    fields every other answer about it has."""
    got = await client.get(f"/chargers/{charge_point_id}")
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    assert "password" not in body
    assert isinstance(body.pop("configuration"), list), body
    return body


def as_charger(added: dict[str, Any]) -> Charger:
    return Charger(added["charge_point_id"], [p["port_uuid"] for p in added["ports"]])


async def admitted(server: Server, charge_point_id: str, password: str) -> int:
    """101 when a 1.6 handshake with this password gets in and boots, else its HTTP status."""
    return await handshake(f"{server.ws_url}/{charge_point_id}", **basic(charge_point_id, password))


async def test_a_charger_added_through_the_api_connects_and_shows_what_it_said(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    async with op.client() as client:
        added = await add(client, connectors=2)
        password = added.pop("password")
        assert len(password) >= 24
        assert [p["connector_id"] for p in added["ports"]] == [1, 2]
        assert added["online"] is False and added["disabled"] is False
        assert added["vendor"] is None and added["ocpp_version"] is None
        cp_id = added["charge_point_id"]
        # Shown once: GET has no password.
        assert await charger(client, cp_id) == added

        sim = await online(simulators, shared_server, as_charger(added), password=password)
        version = simulators.ocpp_version

        async def boot_known() -> bool:
            seen = await charger(client, cp_id)
            return seen["firmware_version"] is not None and (
                version == "2.0.1" or seen["feature_profiles"] is not None
            )

        await eventually(boot_known)
        seen = await charger(client, cp_id)
        assert seen["online"] is True and seen["node"] is not None
        assert seen["ocpp_version"] == version
        assert (seen["vendor"], seen["model"]) == ("chargegate", "sim")
        assert (seen["serial_number"], seen["firmware_version"]) == (
            SERIAL_NUMBER,
            FIRMWARE_VERSION,
        )
        if version == "1.6":
            assert "Core" in seen["feature_profiles"]
        else:
            assert seen["feature_profiles"] is None
        assert seen["last_seen"] is not None

        # A new password, shown once; the old one is refused from the next handshake on, while
        # the connection open now stays open.
        rotated = await client.patch(f"/chargers/{cp_id}", json={"password": None})
        assert rotated.status_code == 200, rotated.text
        new_password = rotated.json()["password"]
        assert new_password != password
        assert "password" not in await charger(client, cp_id)
        assert await admitted(shared_server, cp_id, password) == 403
        assert sim.online
        # Off before it could retry with its old password (each try a failed handshake).
        await sim.power_off()
        chosen = "a password of our own"
        given = await client.patch(f"/chargers/{cp_id}", json={"password": chosen})
        assert given.status_code == 200 and "password" not in given.json()
        assert await admitted(shared_server, cp_id, new_password) == 403
        again = await online(simulators, shared_server, as_charger(added), password=chosen)
        assert again.online


async def test_a_password_given_is_not_shown_and_works(shared_server: Server, op: Operator) -> None:
    async with op.client() as client:
        added = await add(client, password="right-password", ocpp_version="1.6")
        assert "password" not in added and added["ocpp_version_registered"] == "1.6"
        cp_id = added["charge_point_id"]
        assert await admitted(shared_server, cp_id, "wrong-password") == 403
        assert await admitted(shared_server, cp_id, "right-password") == 101
        changed = await client.patch(f"/chargers/{cp_id}", json={"password": "another-one"})
        assert changed.status_code == 200 and "password" not in changed.json()
        assert await admitted(shared_server, cp_id, "right-password") == 403
        assert await admitted(shared_server, cp_id, "another-one") == 101


BAD_CREATES: list[Any] = [
    None,
    [],
    {"connectors": 1},
    {"charge_point_id": "CP-ok"},
    {"charge_point_id": "has:colon", "connectors": 1},
    {"charge_point_id": "C" * 49, "connectors": 1},
    {"charge_point_id": "sp ace", "connectors": 1},
    {"charge_point_id": 7, "connectors": 1},
    {"charge_point_id": "CP-ok", "connectors": 0},
    {"charge_point_id": "CP-ok", "connectors": 33},
    {"charge_point_id": "CP-ok", "connectors": "2"},
    {"charge_point_id": "CP-ok", "connectors": True},
    {"charge_point_id": "CP-ok", "connectors": 1, "password": ""},
    {"charge_point_id": "CP-ok", "connectors": 1, "password": "tab\there"},
    {"charge_point_id": "CP-ok", "connectors": 1, "password": "p" * 129},
    {"charge_point_id": "CP-ok", "connectors": 1, "password": 12345678},
    {"charge_point_id": "CP-ok", "connectors": 1, "password": "cgp-" + "a" * 32},
    {"charge_point_id": "CP-ok", "connectors": 1, "ocpp_version": "1.5"},
    {"charge_point_id": "CP-ok", "connectors": 1, "owner": "someone"},
]
BAD_PATCHES: list[Any] = [
    {},
    {"connectors": 0},
    {"connectors": 1.5},
    {"disabled": "yes"},
    {"password": ""},
    {"password": 5},
    {"password": "cgp-chosen-by-a-person"},
    {"disabled": True, "owner": "x"},
    # All or nothing: a good change beside a bad one is not made either.
    {"disabled": True, "connectors": 99},
]


async def test_bad_input_is_400_and_changes_nothing(op: Operator) -> None:
    async with op.client() as client:
        for body in BAD_CREATES:
            assert_error(await client.post("/chargers", json=body), 400)
        assert (await client.get("/chargers")).json() == []
        added = await add(client, password="kept-password")
        cp_id = added["charge_point_id"]
        for body in BAD_PATCHES:
            assert_error(await client.patch(f"/chargers/{cp_id}", json=body), 400)
        reserved = await client.patch(f"/chargers/{cp_id}", json={"password": "cgp-mine"})
        assert "may not start with 'cgp-'" in assert_error(reserved, 400)
        assert await charger(client, cp_id) == added
        for path in ("/chargers/has:colon", f"/chargers/{'C' * 49}"):
            assert_error(await client.get(path), 400)
            assert_error(await client.delete(path), 400)
        for query in ({"online": "maybe"}, {"limit": -1}, {"cursor": "%%%"}, {"disabled": "2"}):
            assert_error(await client.get("/chargers", params=query), 400)
        for body in (None, {}, {"url": 7}, {"url": "ftp://example.com/x"}, {"url": "x", "a": 1}):
            assert_error(await client.post("/webhooks", json=body), 400)
        for webhook_id in ("abc", "0", "-1", "99999999999"):
            assert_error(await client.delete(f"/webhooks/{webhook_id}"), 400)
        assert (await client.get("/webhooks")).json() == []
        assert_error(await client.get("/webhooks", params={"cursor": "!"}), 400)


async def test_ids_are_global_and_their_owner_is_not_said(shared_server: Server) -> None:
    first, second = await shared_server.operator(), await shared_server.operator()
    async with first.client() as a, second.client() as b:
        added = await add(a)
        cp_id = added["charge_point_id"]
        taken = assert_error(
            await b.post("/chargers", json={"charge_point_id": cp_id, "connectors": 1}), 409
        )
        assert first.name not in taken
        assert_error(
            await a.post("/chargers", json={"charge_point_id": cp_id, "connectors": 2}), 409
        )
        # The other operator's charger is unknown to it, as one that does not exist.
        for method, body in (("GET", None), ("PATCH", {"disabled": True}), ("DELETE", None)):
            assert_error(await b.request(method, f"/chargers/{cp_id}", json=body), 404)
        assert (await b.get("/chargers")).json() == []
        assert await charger(a, cp_id) == {k: v for k, v in added.items() if k != "password"}


async def test_listing_pages_and_filters(op: Operator, shared_server: Server) -> None:
    async with op.client() as client:
        ids = sorted([(await add(client, connectors=n))["charge_point_id"] for n in (1, 2, 3)])
        first = await client.get("/chargers", params={"limit": 2})
        assert first.status_code == 200
        assert [c["charge_point_id"] for c in first.json()] == ids[:2]
        cursor = first.headers["X-Next-Cursor"]
        rest = await client.get("/chargers", params={"limit": 2, "cursor": cursor})
        assert [c["charge_point_id"] for c in rest.json()] == ids[2:]
        assert "X-Next-Cursor" not in rest.headers
        # The ports come along, by connector.
        assert sorted(len(c["ports"]) for c in first.json() + rest.json()) == [1, 2, 3]
        # As the seed's lists: arguments in a JSON body too.
        assert (await client.request("GET", "/chargers", json={"online": True})).json() == []
        offline = await client.get("/chargers", params={"online": "false"})
        assert [c["charge_point_id"] for c in offline.json()] == ids
        await client.patch(f"/chargers/{ids[1]}", json={"disabled": True})
        disabled = await client.get("/chargers", params={"disabled": "true"})
        assert [c["charge_point_id"] for c in disabled.json()] == [ids[1]]
        enabled = await client.get("/chargers", params={"disabled": "false", "limit": 0})
        assert [c["charge_point_id"] for c in enabled.json()] == [ids[0], ids[2]]


@pytest.mark.server_env({"CHARGEGATE_CHARGER_HANDSHAKE_FAILURES": "1000"})
async def test_ports_sessions_disable_and_delete(server: Server, simulators: Simulators) -> None:
    """Ports added and taken off, a session in the way (409), a charger disabled (refused and
    sent away) and enabled, then deleted: gone from the API, its past sessions still there."""
    op = await server.operator()
    async with op.client() as client:
        added = await add(client, connectors=2)
        cp_id, password = added["charge_point_id"], added["password"]
        more = await client.patch(f"/chargers/{cp_id}", json={"connectors": 3})
        assert [p["connector_id"] for p in more.json()["ports"]] == [1, 2, 3]
        ports = [p["port_uuid"] for p in more.json()["ports"]]
        sim = await online(
            simulators, server, Charger(cp_id, ports), password=password, meter_interval_s=3600
        )
        created = await start_session(client, ports[2], iso(600))
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open", opened
        busy = assert_error(await client.patch(f"/chargers/{cp_id}", json={"connectors": 2}), 409)
        assert "3" in busy
        assert_error(await client.delete(f"/chargers/{cp_id}"), 409)
        assert len((await charger(client, cp_id))["ports"]) == 3

        # Disabled: sent away at once, and refused at the handshake with the right password.
        connections = sim.connections
        disabled = await client.patch(f"/chargers/{cp_id}", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        await sim.wait_until(lambda: not sim.online)

        async def shown_offline() -> bool:
            return (await charger(client, cp_id))["online"] is False

        await eventually(shown_offline)
        assert await admitted(server, cp_id, password) == 403
        assert "is disabled by its operator" in server.log()
        assert sim.connections == connections
        enabled = await client.patch(f"/chargers/{cp_id}", json={"disabled": False})
        assert enabled.json()["disabled"] is False
        await sim.wait_until(lambda: sim.online and sim.connections > connections)

        await stop_session(client, created["transaction_uuid"])
        await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        fewer = await client.patch(f"/chargers/{cp_id}", json={"connectors": 2})
        assert [p["port_uuid"] for p in fewer.json()["ports"]] == ports[:2]
        listed = {p["port_uuid"] for p in (await client.get("/ports")).json()}
        assert ports[2] not in listed and set(ports[:2]) <= listed
        # A port taken off takes no new session; its past one stays readable.
        assert_error(
            await client.post("/transactions", json={"port_uuid": ports[2], "expires": iso(600)}),
            404,
        )
        history = await transactions(client, ports[2])
        assert [t["transaction_uuid"] for t in history] == [created["transaction_uuid"]]

        deleted = await client.delete(f"/chargers/{cp_id}")
        assert deleted.status_code == 204, deleted.text
        await sim.wait_until(lambda: not sim.online)
        await sim.power_off()
        assert_error(await client.get(f"/chargers/{cp_id}"), 404)
        assert_error(await client.delete(f"/chargers/{cp_id}"), 404)
        assert (await client.get("/chargers")).json() == []
        assert (await client.get("/ports")).json() == []
        # Nor does the dashboard count its ports as ones it did not show.
        page = await client.get(f"{server.base_url}/dashboard/api/overview")
        assert page.json()["chargers"] == [] and page.json()["not_shown"]["ports"] == 0
        assert await admitted(server, cp_id, password) == 403
        past = await client.get(f"/transactions/{created['transaction_uuid']}")
        assert past.status_code == 200 and past.json()["state"] == "Closed"
        assert [t["state"] for t in await transactions(client, ports[2])] == ["Closed"]
        # Its id stays taken: its past transactions name it.
        assert_error(
            await client.post("/chargers", json={"charge_point_id": cp_id, "connectors": 1}), 409
        )


@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_the_strict_charger_logs_in_with_a_password_the_api_made(
    shared_server: Server, op: Operator, dialect: Dialect
) -> None:
    async with op.client() as client:
        added = await add(client, connectors=1)
        assert added["password"].startswith("cgp-")  # checked fast (services.admission)
        node = NodeCharger(
            shared_server, as_charger(added), dialect, f"--password={added['password']}"
        )
        async with running(node):

            async def booted() -> bool:
                return (await charger(client, added["charge_point_id"]))["online"] is True

            await eventually(booted)
        seen = await charger(client, added["charge_point_id"])
        assert seen["model"] == "strict_charger" and seen["firmware_version"] == "2.2"
        assert seen["serial_number"] == added["charge_point_id"][:25]
        assert seen["ocpp_version"] == dialect.version


async def test_webhooks_through_the_api(shared_server: Server) -> None:
    first, second = await shared_server.operator(), await shared_server.operator()
    async with first.client() as client, second.client() as other:
        made = []
        for n in range(3):
            created = await client.post("/webhooks", json={"url": f"http://127.0.0.1:9/hook{n}"})
            assert created.status_code == 201, created.text
            body = created.json()
            assert set(body) == {"id", "url", "created", "secret"}
            assert body["secret"].startswith("whsec_")
            made.append(body)
        page = await client.get("/webhooks", params={"limit": 2})
        assert [w["id"] for w in page.json()] == [made[2]["id"], made[1]["id"]]
        assert all("secret" not in w for w in page.json())
        rest = await client.get(
            "/webhooks", params={"limit": 2, "cursor": page.headers["X-Next-Cursor"]}
        )
        assert [w["id"] for w in rest.json()] == [made[0]["id"]]
        # Another operator's webhook is as unknown as one that does not exist.
        assert (await other.get("/webhooks")).json() == []
        unknown = assert_error(await other.delete(f"/webhooks/{made[0]['id']}"), 404)
        assert unknown.replace(str(made[0]["id"]), "N") == assert_error(
            await other.delete("/webhooks/2147483000"), 404
        ).replace("2147483000", "N")
        assert (await client.delete(f"/webhooks/{made[0]['id']}")).status_code == 204
        assert_error(await client.delete(f"/webhooks/{made[0]['id']}"), 404)
        assert [w["id"] for w in (await client.get("/webhooks")).json()] == [
            made[2]["id"],
            made[1]["id"],
        ]
    # The CLI lists what the API added (one service for both).
    listed = await provisioning.list_webhooks(shared_server.settings)
    assert {made[1]["id"], made[2]["id"]} <= {w["id"] for w in listed}


@pytest.mark.server_env({"CHARGEGATE_WEBHOOK_ALLOW_PRIVATE": "false"})
async def test_webhook_targets_are_vetted_as_the_cli_vets_them(server: Server) -> None:
    op = await server.operator()
    async with op.client() as client:
        for url in ("http://127.0.0.1/hook", "http://169.254.169.254/latest", "http://10.0.0.1/"):
            message = assert_error(await client.post("/webhooks", json={"url": url}), 400)
            assert "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE" in message
        assert (await client.get("/webhooks")).json() == []
        taken = await client.post("/webhooks", json={"url": "https://1.1.1.1/hook"})
        assert taken.status_code == 201, taken.text


def authenticated_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route that takes the calling operator."""
    return [
        (method, path)
        for path, route in roles.authenticated_routes(app, operator_id)
        for method in sorted(route.methods)
    ]


async def test_a_sessions_key_is_refused_everywhere_but_the_seeds_endpoints(
    shared_server: Server, op: Operator
) -> None:
    sessions_key = await provisioning.create_api_key(shared_server.settings, op.name, Role.SESSIONS)
    routes = authenticated_routes(create_app(shared_server.settings))
    assert len(routes) > 25 and ("GET", "/1.2/ports") in routes
    assert ("POST", "/1.2/chargers") in routes and ("GET", "/dashboard/api/overview") in routes
    async with (
        op.client() as operator_client,
        httpx.AsyncClient(
            base_url=shared_server.base_url, headers={"x-api-key": sessions_key}, timeout=30
        ) as sessions,
    ):
        added = await add(operator_client)
        for method, path in routes:
            concrete = (
                path.replace("{charge_point_id}", added["charge_point_id"])
                .replace("{transaction_uuid}", str(uuid.uuid4()))
                .replace("{queue_uuid}", str(uuid.uuid4()))
                .replace("{reservation_uuid}", str(uuid.uuid4()))
                .replace("{id_tag}", "CARD-1")
                .replace("{webhook_id}", "1")
                .replace("{site_uuid}", str(uuid.uuid4()))
            )
            answer = await sessions.request(method, concrete, json={})
            if path in SEED_PATHS:
                assert answer.status_code != 403, (method, path, answer.text)
            else:
                message = assert_error(answer, 403)
                assert "'sessions'" in message, (method, path, message)
        # Nothing was changed by the refused calls.
        assert await charger(operator_client, added["charge_point_id"]) == {
            k: v for k, v in added.items() if k != "password"
        }
        # The seed's endpoints work with it.
        ports = await sessions.get("/1.2/ports")
        assert ports.status_code == 200 and added["ports"][0]["port_uuid"] in ports.text
    # An operator key is not refused anywhere.
    async with op.client() as client:
        assert (await client.get("/chargers")).status_code == 200


def test_an_authenticated_route_without_a_declared_role_is_refused_at_start() -> None:
    app = FastAPI()

    @app.get("/1.2/forgotten")
    async def forgotten(operator: OperatorDependency) -> int:
        return operator

    with pytest.raises(RuntimeError, match=r"/1\.2/forgotten"):
        roles.require_declared(app, operator_id)


def test_the_cli_makes_sessions_keys_and_lists_roles(shared_server: Server) -> None:
    name = f"op-{uuid.uuid4().hex[:8]}"

    made = cli(shared_server, "apikey", "create", "--operator", name, "--role", "sessions")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    listed = cli(shared_server, "apikey", "list")
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[0][-1] == "role"
    assert [row[-1] for row in rows if row[1] == name] == ["sessions"]
    assert (
        cli(shared_server, "apikey", "create", "--operator", name, "--role", "root").returncode != 0
    )
    refused = httpx.get(f"{shared_server.api}/chargers", headers={"x-api-key": key})
    assert refused.status_code == 403
    added = cli(shared_server, "chargers", "add", new_id(), "--operator", name, "--password", "")
    assert added.returncode == 2 and "empty password" in added.stderr
    assert json.loads(cli(shared_server, "webhooks", "list").stdout) is not None
