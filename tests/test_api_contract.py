"""Every endpoint of the seed's REST API (/1.2) with every status code it lists.

The seed is the contract: a real `chargegate serve` process, real HTTP, real OCPP simulators.
Every error must leave as exactly `{"message": "<non-empty text>"}`, and bad input must change
nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support import (
    TX_KEYS,
    Operator,
    Server,
    Simulators,
    api_time,
    assert_error,
    iso,
    online,
    open_session,
    poll_queue,
    start_session,
)

API_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
PORT_KEYS = {"port_uuid", "charge_point_id", "connector_id", "status", "online"}


# -- helpers ------------------------------------------------------------------------------------


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def new_uuid() -> str:
    return str(uuid.uuid4())


def assert_transaction_shape(body: dict[str, Any]) -> None:
    assert set(body) == TX_KEYS, body
    assert is_uuid(body["transaction_uuid"]) and is_uuid(body["port_uuid"]), body
    assert body["state"] in ("Pending", "Open", "Closed", "Failed"), body
    for key in ("started", "ended", "expires"):
        value = body[key]
        assert value is None or (isinstance(value, str) and API_TIME.fullmatch(value)), (key, body)
    assert body["invoice_id"] is None or isinstance(body["invoice_id"], str), body
    energy = body["energy_wh"]
    assert energy is None or (isinstance(energy, int) and not isinstance(energy, bool)), body


async def get_tx(client: httpx.AsyncClient, transaction_uuid: str) -> dict[str, Any]:
    response = await client.get(f"/transactions/{transaction_uuid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_txs(client: httpx.AsyncClient, port_uuid: str, limit: int = 0) -> httpx.Response:
    return await client.request(
        "GET", "/transactions", json={"port_uuid": port_uuid, "limit": limit}
    )


# -- POST /transactions -------------------------------------------------------------------------


async def test_create_returns_201_with_queue_and_transaction(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    async with op.client() as client:
        response = await client.post(
            "/transactions",
            json={"port_uuid": charger.port, "expires": iso(600), "invoice_id": "inv-42"},
        )
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"href", "queue_uuid", "transaction_uuid"}, body
        assert is_uuid(body["queue_uuid"]) and is_uuid(body["transaction_uuid"]), body
        assert body["queue_uuid"] != body["transaction_uuid"]
        assert body["href"] == f"/queue/{body['queue_uuid']}"
        tx = await get_tx(client, body["transaction_uuid"])
        assert tx["port_uuid"] == charger.port
        assert tx["invoice_id"] == "inv-42"
        assert tx["state"] in ("Pending", "Open")


async def test_create_without_invoice_id_stores_null(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        assert (await get_tx(client, created["transaction_uuid"]))["invoice_id"] is None


@pytest.mark.parametrize("invoice_id", ["inv\u0000-1", "\u0000", "inv\n1", "inv\u007f"])
async def test_invoice_id_with_control_characters_is_400_and_starts_nothing(
    op: Operator, invoice_id: str
) -> None:
    """PostgreSQL text cannot hold a NUL, so one in invoice_id reached the database as a 500."""
    charger = await op.add_charger()
    body = {"port_uuid": charger.port, "expires": iso(600), "invoice_id": invoice_id}
    async with op.client() as client:
        response = await client.post("/transactions", json=body)
        assert "invoice_id" in assert_error(response, 400)
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize(
    "expires",
    ["2022-01-05T20:40:00+0000", "2000-01-01T00:00:00Z", "past-2s"],
    ids=["seed-example", "long-ago", "two-seconds-ago"],
)
async def test_create_in_the_past_is_400(op: Operator, expires: str) -> None:
    charger = await op.add_charger()
    if expires == "past-2s":
        expires = iso(-2)
    async with op.client() as client:
        before = datetime.now(UTC).replace(microsecond=0)
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": expires}
        )
        after = datetime.now(UTC)
        message = assert_error(response, 400)
        assert message.startswith("Expiry time must be in the future"), message
        assert "UTC" in message
        found = re.search(r"Current UTC time is (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", message)
        assert found, message
        assert before - timedelta(seconds=1) <= api_time(found.group(1)) <= after, message
        assert "Received UTC time is" in message, message
        assert_error(await list_txs(client, charger.port), 404)


async def test_create_past_message_echoes_received_time_like_the_seed(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        response = await client.post(
            "/transactions",
            json={"port_uuid": charger.port, "expires": "2022-01-05T20:40:00+0000"},
        )
        message = assert_error(response, 400)
        assert "Received UTC time is 2022-01-05 20:40:00+00:00" in message, message


Body = Callable[[str, str], Any]

MISSING: dict[str, Body] = {
    "empty-object": lambda port, expires: {},
    "no-expires": lambda port, expires: {"port_uuid": port},
    "no-port": lambda port, expires: {"expires": expires},
    "only-invoice": lambda port, expires: {"invoice_id": "inv"},
    "null-port": lambda port, expires: {"port_uuid": None, "expires": expires},
    "null-expires": lambda port, expires: {"port_uuid": port, "expires": None},
}

WRONG_TYPES: dict[str, Body] = {
    "expires-number": lambda port, expires: {"port_uuid": port, "expires": 1893456000},
    "expires-bool": lambda port, expires: {"port_uuid": port, "expires": True},
    "expires-list": lambda port, expires: {"port_uuid": port, "expires": [expires]},
    "expires-object": lambda port, expires: {"port_uuid": port, "expires": {"at": expires}},
    "port-number": lambda port, expires: {"port_uuid": 12345, "expires": expires},
    "port-list": lambda port, expires: {"port_uuid": [port], "expires": expires},
    "invoice-number": lambda port, expires: {
        "port_uuid": port,
        "expires": expires,
        "invoice_id": 42,
    },
    "invoice-bool": lambda port, expires: {
        "port_uuid": port,
        "expires": expires,
        "invoice_id": True,
    },
    "invoice-object": lambda port, expires: {
        "port_uuid": port,
        "expires": expires,
        "invoice_id": {"id": "x"},
    },
    "stg-string": lambda port, expires: {"port_uuid": port, "expires": expires, "stg": "true"},
    "stg-number": lambda port, expires: {"port_uuid": port, "expires": expires, "stg": 1},
}

BAD_VALUES: dict[str, Body] = {
    "port-not-uuid": lambda port, expires: {"port_uuid": "not-a-uuid", "expires": expires},
    "port-digits": lambda port, expires: {"port_uuid": "12345", "expires": expires},
    "port-empty": lambda port, expires: {"port_uuid": "", "expires": expires},
    "expires-not-a-time": lambda port, expires: {"port_uuid": port, "expires": "tomorrow"},
    "expires-empty": lambda port, expires: {"port_uuid": port, "expires": ""},
    "unknown-field": lambda port, expires: {"port_uuid": port, "expires": expires, "foo": 1},
    "body-is-array": lambda port, expires: [{"port_uuid": port, "expires": expires}],
    "body-is-string": lambda port, expires: "port_uuid",
    "body-is-number": lambda port, expires: 7,
}


@pytest.mark.parametrize("make", list(MISSING.values()), ids=list(MISSING))
async def test_create_missing_fields_is_400(op: Operator, make: Body) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        assert_error(await client.post("/transactions", json=make(charger.port, iso(600))), 400)
        assert_error(await list_txs(client, charger.port), 404)


async def test_create_without_body_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        assert_error(await client.post("/transactions"), 400)
        assert_error(
            await client.post(
                "/transactions", content=b"", headers={"content-type": "application/json"}
            ),
            400,
        )
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize("make", list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
async def test_create_wrong_types_is_400(op: Operator, make: Body) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        assert_error(await client.post("/transactions", json=make(charger.port, iso(600))), 400)
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize("make", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
async def test_create_bad_values_is_400(op: Operator, make: Body) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        assert_error(await client.post("/transactions", json=make(charger.port, iso(600))), 400)
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize("offset", ["+0200", "-0500", "+01:00", "+0530"])
async def test_create_non_utc_offset_is_400(op: Operator, offset: str) -> None:
    charger = await op.add_charger()
    # Far in the future in every zone, so the only fault is the zone itself.
    expires = iso(86400, "%Y-%m-%dT%H:%M:%S") + offset
    async with op.client() as client:
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": expires}
        )
        message = assert_error(response, 400)
        assert "not in UTC" in message, message
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize(
    "fmt", ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"], ids=["s", "min", "space"]
)
async def test_create_without_timezone_is_400(op: Operator, fmt: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(86400, fmt)}
        )
        message = assert_error(response, 400)
        assert "timezone" in message or "UTC" in message, message
        assert_error(await list_txs(client, charger.port), 404)


async def test_create_invalid_json_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        for raw in (b"{not json", b'{"port_uuid": "x",}', b"\xff\xfe"):
            response = await client.post(
                "/transactions", content=raw, headers={"content-type": "application/json"}
            )
            assert_error(response, 400)
        assert_error(await list_txs(client, charger.port), 404)


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S+0000",
        "%Y-%m-%dT%H:%M:%S+00:00",
        "%Y-%m-%dT%H:%M:%S.250Z",
    ],
    ids=["Z", "+0000", "+00:00", "fraction-Z"],
)
async def test_create_accepts_utc_forms(op: Operator, fmt: str) -> None:
    charger = await op.add_charger()
    expires = iso(3600, fmt)
    async with op.client() as client:
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": expires}
        )
        assert response.status_code == 201, response.text
        tx = await get_tx(client, response.json()["transaction_uuid"])
        assert tx["expires"] == expires[:19]


async def test_create_unknown_port_is_404(op: Operator) -> None:
    await op.add_charger()
    async with op.client() as client:
        unknown = new_uuid()
        response = await client.post(
            "/transactions", json={"port_uuid": unknown, "expires": iso(600)}
        )
        assert_error(response, 404)


async def test_create_on_busy_port_is_409(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        first = await open_session(client, charger.port)
        response = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        message = assert_error(response, 409)
        assert first["transaction_uuid"] in message
        # Nothing new was recorded, the running session is untouched, no second start went out.
        listed = (await list_txs(client, charger.port)).json()
        assert [tx["transaction_uuid"] for tx in listed] == [first["transaction_uuid"]]
        assert (await get_tx(client, first["transaction_uuid"]))["state"] == "Open"
        assert sim.start_requests == 1
        # The other connector of the same charger is independent.
        other = await client.post(
            "/transactions", json={"port_uuid": charger.port_uuids[1], "expires": iso(600)}
        )
        assert other.status_code == 201, other.text


async def test_port_is_free_again_after_close(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    async with op.client() as client:
        first = await open_session(client, charger.port)
        stop = await client.patch(
            f"/transactions/{first['transaction_uuid']}", json={"state": "closed"}
        )
        assert stop.status_code == 202
        await poll_queue(client, stop.json()["id"])
        again = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert again.status_code == 201, again.text


# -- authentication (401 on every endpoint) -------------------------------------------------------


def _endpoints() -> list[tuple[str, str, Any]]:
    some = "f1985d47-a946-4400-ba52-c00bb0c2cc0f"
    return [
        ("POST", "/transactions", {"port_uuid": some, "expires": "2099-01-01T00:00:00+0000"}),
        ("GET", "/transactions", {"port_uuid": some, "limit": 0}),
        ("GET", f"/transactions/{some}", None),
        ("PATCH", f"/transactions/{some}", {"state": "closed"}),
        ("PATCH", f"/transactions/{some}", {"expires": "2099-01-01T00:00:00+0000"}),
        ("GET", f"/queue/{some}", None),
        ("GET", "/ports", None),
        # Credentials are checked before arguments.
        ("POST", "/transactions", {"bogus": True}),
        ("GET", "/queue/not-a-uuid", None),
        ("PATCH", "/transactions/not-a-uuid", {}),
    ]


def _bad_keys(good: str) -> dict[str, str | None]:
    _, lookup, _ = good.split("_", 2)
    return {
        "missing": None,
        "empty": "",
        "malformed": "not-an-api-key",
        "bearer": f"Bearer {good}",
        "unknown": f"cg_{'0' * 16}_{'A' * 43}",
        "wrong-secret": f"cg_{lookup}_{'A' * 43}",
        "truncated": good[:-1],
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    _endpoints(),
    ids=[f"{m} {p}" + (" bad-args" if i >= 7 else "") for i, (m, p, _) in enumerate(_endpoints())],
)
async def test_bad_credentials_are_401(
    shared_server: Server, op: Operator, method: str, path: str, body: Any
) -> None:
    charger = await op.add_charger()
    for name, key in _bad_keys(op.key).items():
        headers = {} if key is None else {"x-api-key": key}
        async with httpx.AsyncClient(base_url=shared_server.api, headers=headers) as client:
            response = await client.request(method, path, json=body)
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert_error(response, 401)
    # Nothing was done on anyone's behalf.
    async with op.client() as client:
        assert_error(await list_txs(client, charger.port), 404)


async def test_good_key_still_works_after_failed_attempts(op: Operator) -> None:
    async with httpx.AsyncClient(
        base_url=op.server.api, headers={"x-api-key": op.key[:-1] + "x"}
    ) as bad:
        assert_error(await bad.get("/ports"), 401)
    async with op.client() as client:
        assert (await client.get("/ports")).status_code == 200


# -- GET /queue/<queue_uuid> --------------------------------------------------------------------


async def test_queue_in_progress_shape(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger()
    # No EV: the charger accepts the start but no transaction begins before the 3 s timeout.
    await online(simulators, op.server, charger, ev_plugged_in=False)
    async with op.client() as client:
        created = await start_session(client, charger.port)
        response = await client.get(f"/queue/{created['queue_uuid']}")
        assert response.status_code == 200, response.text
        assert response.json() == {"id": created["queue_uuid"], "status": "IN PROGRESS"}
        tx = await get_tx(client, created["transaction_uuid"])
        assert tx["state"] == "Pending"
        assert tx["started"] is None and tx["ended"] is None


async def test_queue_success_returns_the_transaction(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    expires = iso(900)
    async with op.client() as client:
        created = await start_session(client, charger.port, expires, invoice_id="inv-q")
        body = await poll_queue(client, created["queue_uuid"])
        assert_transaction_shape(body)
        assert body["transaction_uuid"] == created["transaction_uuid"]
        assert body["port_uuid"] == charger.port
        assert body["state"] == "Open"
        assert body["started"] is not None and body["ended"] is None
        assert body["expires"] == expires[:19]
        assert abs(api_time(body["started"]) - datetime.now(UTC)) < timedelta(seconds=10)
        assert body == await get_tx(client, created["transaction_uuid"])


async def test_queue_failure_shape(op: Operator) -> None:
    charger = await op.add_charger()  # never connected: offline
    async with op.client() as client:
        created = await start_session(client, charger.port)
        response = await client.get(f"/queue/{created['queue_uuid']}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"id", "status", "reason"}, body
        assert body["id"] == created["queue_uuid"]
        assert body["status"] == "FAILURE"
        assert isinstance(body["reason"], str) and "offline" in body["reason"], body


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-uuid",
        "12345",
        "f1985d47-a946-4400-ba52-c00bb0c2cc0",
        "f1985d47a9464400ba52c00bb0c2zzzz",
    ],
)
async def test_queue_not_a_uuid_is_400(op: Operator, bad: str) -> None:
    async with op.client() as client:
        assert_error(await client.get(f"/queue/{bad}"), 400)


async def test_queue_unknown_is_404(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        assert_error(await client.get(f"/queue/{new_uuid()}"), 404)
        # A transaction's uuid is not a queue item's.
        assert_error(await client.get(f"/queue/{created['transaction_uuid']}"), 404)


# -- GET /transactions (list) -------------------------------------------------------------------


async def _three_failed(client: httpx.AsyncClient, port_uuid: str) -> list[str]:
    """Three transactions on an offline port (each fails at once, freeing the port)."""
    uuids = []
    for n in range(3):
        uuids.append(
            (await start_session(client, port_uuid, invoice_id=f"inv-{n}"))["transaction_uuid"]
        )
    return uuids


async def _list(client: httpx.AsyncClient, via: str, args: dict[str, Any]) -> httpx.Response:
    if via == "json":
        return await client.request("GET", "/transactions", json=args)
    return await client.get("/transactions", params={k: str(v) for k, v in args.items()})


@pytest.mark.parametrize("via", ["json", "query"])
async def test_list_newest_first_and_limits(op: Operator, via: str) -> None:
    charger = await op.add_charger(connectors=2)
    async with op.client() as client:
        created = await _three_failed(client, charger.port)
        await start_session(client, charger.port_uuids[1])  # another port: never listed
        newest_first = list(reversed(created))
        for limit, expected in ((0, newest_first), (1, newest_first[:1]), (2, newest_first[:2])):
            response = await _list(client, via, {"port_uuid": charger.port, "limit": limit})
            assert response.status_code == 200, response.text
            body = response.json()
            assert isinstance(body, list)
            assert [tx["transaction_uuid"] for tx in body] == expected, (limit, body)
            for tx in body:
                assert_transaction_shape(tx)
                assert tx["port_uuid"] == charger.port
        many = await _list(client, via, {"port_uuid": charger.port, "limit": 50})
        assert [tx["transaction_uuid"] for tx in many.json()] == newest_first
        # Items are the same records GET /transactions/<uuid> returns.
        assert many.json()[0] == await get_tx(client, created[-1])


LIST_400_JSON: dict[str, Body] = {
    "empty": lambda port, _: {},
    "no-limit": lambda port, _: {"port_uuid": port},
    "no-port": lambda port, _: {"limit": 1},
    "null-limit": lambda port, _: {"port_uuid": port, "limit": None},
    "limit-string": lambda port, _: {"port_uuid": port, "limit": "2"},
    "limit-float": lambda port, _: {"port_uuid": port, "limit": 2.5},
    "limit-negative": lambda port, _: {"port_uuid": port, "limit": -1},
    "limit-true": lambda port, _: {"port_uuid": port, "limit": True},
    "limit-false": lambda port, _: {"port_uuid": port, "limit": False},
    "limit-list": lambda port, _: {"port_uuid": port, "limit": [1]},
    "port-number": lambda port, _: {"port_uuid": 7, "limit": 1},
    "port-not-uuid": lambda port, _: {"port_uuid": "port-1", "limit": 1},
    "stg-string": lambda port, _: {"port_uuid": port, "limit": 1, "stg": "yes"},
    "body-array": lambda port, _: [port, 1],
}

LIST_400_QUERY: dict[str, Callable[[str], dict[str, str]]] = {
    "empty": lambda port: {},
    "no-limit": lambda port: {"port_uuid": port},
    "no-port": lambda port: {"limit": "1"},
    "limit-word": lambda port: {"port_uuid": port, "limit": "abc"},
    "limit-empty": lambda port: {"port_uuid": port, "limit": ""},
    "limit-float": lambda port: {"port_uuid": port, "limit": "1.5"},
    "limit-negative": lambda port: {"port_uuid": port, "limit": "-1"},
    "limit-true": lambda port: {"port_uuid": port, "limit": "true"},
    "port-not-uuid": lambda port: {"port_uuid": "port-1", "limit": "1"},
    "stg-word": lambda port: {"port_uuid": port, "limit": "1", "stg": "yes"},
}


@pytest.mark.parametrize("make", list(LIST_400_JSON.values()), ids=list(LIST_400_JSON))
async def test_list_bad_json_arguments_are_400(op: Operator, make: Body) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        await start_session(
            client, charger.port
        )  # the port has a transaction: only the args are wrong
        response = await client.request("GET", "/transactions", json=make(charger.port, ""))
        assert_error(response, 400)


@pytest.mark.parametrize("make", list(LIST_400_QUERY.values()), ids=list(LIST_400_QUERY))
async def test_list_bad_query_arguments_are_400(
    op: Operator, make: Callable[[str], dict[str, str]]
) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        await start_session(client, charger.port)
        assert_error(await client.get("/transactions", params=make(charger.port)), 400)


async def test_list_invalid_json_body_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        await start_session(client, charger.port)
        response = await client.request(
            "GET",
            "/transactions",
            content=b'{"port_uuid": ',
            headers={"content-type": "application/json"},
        )
        assert_error(response, 400)


@pytest.mark.parametrize("via", ["json", "query"])
async def test_list_404_without_transactions_or_unknown_port(op: Operator, via: str) -> None:
    charger = await op.add_charger(connectors=2)
    async with op.client() as client:
        await start_session(client, charger.port_uuids[1])
        assert_error(await _list(client, via, {"port_uuid": charger.port, "limit": 0}), 404)
        assert_error(await _list(client, via, {"port_uuid": new_uuid(), "limit": 0}), 404)
        assert_error(await _list(client, via, {"port_uuid": new_uuid(), "limit": 3}), 404)


# -- GET /transactions/<transaction_uuid> --------------------------------------------------------


async def test_get_transaction_open_shape(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    expires = iso(1800)
    async with op.client() as client:
        created = await start_session(client, charger.port, expires, invoice_id="abc-1")
        await poll_queue(client, created["queue_uuid"])
        tx = await get_tx(client, created["transaction_uuid"])
        assert_transaction_shape(tx)
        assert tx["transaction_uuid"] == created["transaction_uuid"]
        assert tx["port_uuid"] == charger.port
        assert tx["state"] == "Open"
        assert tx["started"] is not None and tx["ended"] is None
        assert tx["expires"] == expires[:19]
        assert tx["invoice_id"] == "abc-1"
        # Uppercase spelling of the same UUID names the same transaction.
        upper = await client.get(f"/transactions/{created['transaction_uuid'].upper()}")
        assert upper.status_code == 200 and upper.json() == tx


async def test_get_transaction_failed_shape(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        tx = await get_tx(client, created["transaction_uuid"])
        assert_transaction_shape(tx)
        assert tx["state"] == "Failed"
        assert tx["started"] is None


@pytest.mark.parametrize("bad", ["not-a-uuid", "1", "251dcc08-aa22-4f4c-9e18-19b39404622"])
async def test_get_transaction_not_a_uuid_is_400(op: Operator, bad: str) -> None:
    async with op.client() as client:
        assert_error(await client.get(f"/transactions/{bad}"), 400)


async def test_get_transaction_with_bad_arguments_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        for stg in ("yes", 1, [True]):
            assert_error(await client.request("GET", path, json={"stg": stg}), 400)
        assert_error(await client.get(path, params={"stg": "maybe"}), 400)
        response = await client.request(
            "GET", path, content=b"{nope", headers={"content-type": "application/json"}
        )
        assert_error(response, 400)


async def test_get_transaction_unknown_is_404(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        assert_error(await client.get(f"/transactions/{new_uuid()}"), 404)
        # A queue item's uuid is not a transaction's.
        assert_error(await client.get(f"/transactions/{created['queue_uuid']}"), 404)


# -- PATCH /transactions/<transaction_uuid> ------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", ["%Y-%m-%dT%H:%M:%S+0000", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00"]
)
async def test_patch_extend_is_204(op: Operator, simulators: Simulators, fmt: str) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        new_expiry = iso(7200, fmt)
        response = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"expires": new_expiry}
        )
        assert response.status_code == 204, response.text
        assert response.content == b""
        tx = await get_tx(client, created["transaction_uuid"])
        assert tx["expires"] == new_expiry[:19]
        assert tx["state"] == "Open"
        assert sim.stop_requests == 0


async def test_patch_close_is_202_and_queue_follows_the_stop(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        response = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert set(body) == {"href", "id"}, body
        assert is_uuid(body["id"])
        assert body["id"] not in (created["queue_uuid"], created["transaction_uuid"])
        assert body["href"] == f"/queue/{body['id']}"
        done = await poll_queue(client, body["id"])
        assert_transaction_shape(done)
        assert done["transaction_uuid"] == created["transaction_uuid"]
        assert done["state"] == "Closed"
        assert done["ended"] is not None
        assert api_time(done["ended"]) >= api_time(done["started"])
        assert sim.stop_requests == 1


async def test_patch_bad_arguments_are_400_and_change_nothing(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        before = await get_tx(client, created["transaction_uuid"])
        future = iso(7200)
        bad: dict[str, Any] = {
            "both": {"expires": future, "state": "closed"},
            "neither": {},
            "only-stg": {"stg": False},
            "state-open": {"state": "open"},
            "state-ended": {"state": "ended"},
            "state-empty": {"state": ""},
            "state-number": {"state": 1},
            "state-bool": {"state": True},
            "expires-past": {"expires": iso(-60)},
            "expires-seed-past": {"expires": "2022-09-24T19:05:00+0000"},
            "expires-non-utc": {"expires": iso(7200, "%Y-%m-%dT%H:%M:%S") + "+0200"},
            "expires-no-zone": {"expires": iso(7200, "%Y-%m-%dT%H:%M:%S")},
            "expires-number": {"expires": 1893456000},
            "expires-garbage": {"expires": "soon"},
            "unknown-field": {"expires": future, "invoice_id": "x"},
            "stg-string": {"state": "closed", "stg": "true"},
            "array": [{"state": "closed"}],
        }
        wrong = []
        for name, payload in bad.items():
            response = await client.patch(path, json=payload)
            if response.status_code != 400:
                wrong.append((name, response.status_code, response.text))
            else:
                assert_error(response, 400)
        for raw in (b"", b"{oops", b"null"):
            response = await client.patch(
                path, content=raw, headers={"content-type": "application/json"}
            )
            if response.status_code != 400:
                wrong.append((raw, response.status_code, response.text))
            else:
                assert_error(response, 400)
        assert not wrong, wrong
        past = await client.patch(path, json={"expires": iso(-60)})
        assert assert_error(past, 400).startswith("Expiry time must be in the future")
        after = await get_tx(client, created["transaction_uuid"])
        assert {k: v for k, v in after.items() if k != "energy_wh"} == {
            k: v for k, v in before.items() if k != "energy_wh"
        }
        assert sim.stop_requests == 0


async def test_patch_ended_transaction_is_403(op: Operator) -> None:
    charger = await op.add_charger()  # offline: the start fails at once
    async with op.client() as client:
        created = await start_session(client, charger.port)
        failed = await poll_queue(client, created["queue_uuid"])
        assert failed["status"] == "FAILURE" and "offline" in failed["reason"]
        path = f"/transactions/{created['transaction_uuid']}"
        before = await get_tx(client, created["transaction_uuid"])
        assert before["state"] == "Failed"
        assert_error(await client.patch(path, json={"state": "closed"}), 403)
        assert_error(await client.patch(path, json={"expires": iso(7200)}), 403)
        assert await get_tx(client, created["transaction_uuid"]) == before


async def test_patch_closed_transaction_is_403(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        stop = await client.patch(path, json={"state": "closed"})
        await poll_queue(client, stop.json()["id"])
        before = await get_tx(client, created["transaction_uuid"])
        assert before["state"] == "Closed"
        assert_error(await client.patch(path, json={"state": "closed"}), 403)
        assert_error(await client.patch(path, json={"expires": iso(7200)}), 403)
        assert await get_tx(client, created["transaction_uuid"]) == before
        assert sim.stop_requests == 1


async def test_patch_unknown_is_404_and_not_a_uuid_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await start_session(client, charger.port)
        for payload in ({"state": "closed"}, {"expires": iso(7200)}):
            assert_error(await client.patch(f"/transactions/{new_uuid()}", json=payload), 404)
            assert_error(
                await client.patch(f"/transactions/{created['queue_uuid']}", json=payload), 404
            )
            assert_error(await client.patch("/transactions/not-a-uuid", json=payload), 400)


# -- GET /ports ---------------------------------------------------------------------------------


async def test_ports_lists_only_own_ports(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    two = await op.add_charger(connectors=2)
    one = await op.add_charger(connectors=1)
    await online(simulators, shared_server, two)
    other = await shared_server.operator()
    foreign = await other.add_charger(connectors=3)
    async with op.client() as client:
        response = await client.get("/ports")
        assert response.status_code == 200, response.text
        ports = response.json()
        assert isinstance(ports, list)
        for port in ports:
            assert set(port) == PORT_KEYS, port
            # The last status the charger reported; none before it ever connected.
            assert port["status"] is None or isinstance(port["status"], str), port
            assert isinstance(port["online"], bool)
        by_uuid = {port["port_uuid"]: port for port in ports}
        assert set(by_uuid) == {*two.port_uuids, *one.port_uuids}
        assert not set(by_uuid) & set(foreign.port_uuids)
        for n, port_uuid in enumerate(two.port_uuids, start=1):
            assert by_uuid[port_uuid]["charge_point_id"] == two.charge_point_id
            assert by_uuid[port_uuid]["connector_id"] == n
            assert by_uuid[port_uuid]["online"] is True
            assert by_uuid[port_uuid]["status"] == "Available"
        assert by_uuid[one.port]["charge_point_id"] == one.charge_point_id
        assert by_uuid[one.port]["connector_id"] == 1
        assert by_uuid[one.port]["online"] is False
    async with other.client() as client:
        assert {p["port_uuid"] for p in (await client.get("/ports")).json()} == set(
            foreign.port_uuids
        )


async def test_ports_empty_for_operator_without_chargers(op: Operator) -> None:
    async with op.client() as client:
        response = await client.get("/ports")
        assert response.status_code == 200
        assert response.json() == []


# -- anything else still answers in the error shape ---------------------------------------------


async def test_unknown_route_and_method_use_the_error_shape(op: Operator) -> None:
    async with op.client() as client:
        assert_error(await client.get("/nothing-here"), 404)
        assert_error(await client.delete(f"/transactions/{new_uuid()}"), 405)


# -- races and hostile input: still one session per port, still 400 rather than 500 --------------


async def test_concurrent_starts_on_one_port_create_exactly_one(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        responses = await asyncio.gather(
            *[
                client.post("/transactions", json={"port_uuid": charger.port, "expires": iso(600)})
                for _ in range(8)
            ]
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 7, [(r.status_code, r.text) for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_error(response, 409)
        winner = next(r.json() for r in responses if r.status_code == 201)
        listed = (await list_txs(client, charger.port)).json()
        assert [tx["transaction_uuid"] for tx in listed] == [winner["transaction_uuid"]]
        await poll_queue(client, winner["queue_uuid"])
        assert sim.start_requests == 1


@pytest.mark.parametrize("via", ["json", "query"])
@pytest.mark.parametrize("limit", [2**63 - 1, 2**63, 10**30], ids=["int64-max", "2^63", "1e30"])
async def test_list_with_huge_limit_is_not_a_server_error(
    op: Operator, via: str, limit: int
) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await _three_failed(client, charger.port)
    # A fresh connection: a server error may close the one it happened on.
    async with op.client() as client:
        response = await _list(client, via, {"port_uuid": charger.port, "limit": limit})
    # "1 or higher for the latest one or more": every transaction, or else a 400; never a 500.
    assert response.status_code in (200, 400), (response.status_code, response.text)
    if response.status_code == 200:
        assert [tx["transaction_uuid"] for tx in response.json()] == list(reversed(created))
    else:
        assert_error(response, 400)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def test_deeply_nested_json_is_treated_like_any_unreadable_body(op: Operator) -> None:
    """A body nested too deeply to read gets the same 400 as a body that is not JSON."""
    charger = await op.add_charger()
    headers = {"content-type": "application/json"}
    requests = [
        ("POST", "/transactions"),
        ("GET", "/transactions"),
        ("GET", f"/transactions/{new_uuid()}"),
        ("PATCH", f"/transactions/{new_uuid()}"),
        ("GET", f"/queue/{new_uuid()}"),
    ]
    results = []
    for method, path in requests:
        statuses = []
        for raw in (b"{oops", _nested(5000)):
            # A fresh connection each time: a server error may close the one it happened on.
            async with op.client() as client:
                response = await client.request(method, path, content=raw, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 400:
                assert_error(response, 400)
        results.append((method, path.split("/")[1], *statuses))
    assert all(garbage == nested == 400 for *_, garbage, nested in results), results
    async with op.client() as client:
        assert_error(await list_txs(client, charger.port), 404)


LONE_SURROGATE = "\\ud800"  # valid JSON escape, but not a Unicode scalar value


@pytest.mark.parametrize(
    "template",
    [
        '{"port_uuid": "PORT", "expires": "EXPIRES", "invoice_id": "inv-S"}',
        '{"port_uuid": "PORT", "expires": "S"}',
        '{"port_uuid": "S", "expires": "EXPIRES"}',
        '{"port_uuid": "PORT", "expires": "EXPIRES", "S": 1}',
    ],
    ids=["invoice_id", "expires", "port_uuid", "field-name"],
)
async def test_create_with_lone_surrogate_is_400(op: Operator, template: str) -> None:
    charger = await op.add_charger()
    raw = (
        template.replace("PORT", charger.port)
        .replace("EXPIRES", iso(600))
        .replace("S", LONE_SURROGATE)
    )
    async with op.client() as client:
        response = await client.post(
            "/transactions", content=raw.encode(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, (response.status_code, response.text)
    assert_error(response, 400)
    async with op.client() as client:
        assert_error(await list_txs(client, charger.port), 404)


async def test_list_and_patch_with_lone_surrogate_are_400(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        before = await get_tx(client, created["transaction_uuid"])
    headers = {"content-type": "application/json"}
    cases = [
        ("GET", "/transactions", '{"port_uuid": "S", "limit": 1}'),
        ("PATCH", f"/transactions/{created['transaction_uuid']}", '{"expires": "S"}'),
        ("PATCH", f"/transactions/{created['transaction_uuid']}", '{"state": "S"}'),
        ("GET", f"/queue/{created['queue_uuid']}", '{"stg": true, "stg_input": "S"}'),
    ]
    results = []
    for method, path, template in cases:
        async with op.client() as client:
            response = await client.request(
                method,
                path,
                content=template.replace("S", LONE_SURROGATE).encode(),
                headers=headers,
            )
        results.append((method, template, response.status_code))
    assert all(code == 400 for *_, code in results), results
    async with op.client() as client:
        after = await get_tx(client, created["transaction_uuid"])
    assert after["state"] == before["state"] == "Open"
    assert after["expires"] == before["expires"]


# -- a stop that cannot reach the charger --------------------------------------------------------


async def _stop_outstanding(
    op: Operator, simulators: Simulators, client: httpx.AsyncClient
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An Open session whose charger then went offline, with a stop request pending."""
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    created = await open_session(client, charger.port)
    await sim.stop()
    deadline = asyncio.get_running_loop().time() + 10
    while (await client.get("/ports")).json()[0]["online"]:
        assert asyncio.get_running_loop().time() < deadline, "server never saw the charger leave"
        await asyncio.sleep(0.05)
    response = await client.patch(
        f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
    )
    assert response.status_code == 202, response.text
    return created, response.json()


async def test_queue_stop_in_progress_shape(op: Operator, simulators: Simulators) -> None:
    async with op.client() as client:
        _, stop = await _stop_outstanding(op, simulators, client)
        response = await client.get(f"/queue/{stop['id']}")
        assert response.status_code == 200, response.text
        # The seed's "Task in progress" body.
        assert response.json() == {"id": stop["id"], "status": "IN PROGRESS"}


async def test_patch_while_stop_is_outstanding_uses_a_seed_status(
    op: Operator, simulators: Simulators
) -> None:
    async with op.client() as client:
        created, stop = await _stop_outstanding(op, simulators, client)
        path = f"/transactions/{created['transaction_uuid']}"
        # Asking to stop again follows the same stop.
        again = await client.patch(path, json={"state": "closed"})
        assert again.status_code == 202, again.text
        assert again.json() == stop
        # A session that is being stopped is ending: extending it is refused like an ended one
        # (403, a status the seed lists for PATCH), and nothing changes.
        before = (await client.get(path)).json()
        extend = await client.patch(path, json={"expires": iso(3600)})
        assert "being stopped" in assert_error(extend, 403)
        assert (await client.get(path)).json() == before
