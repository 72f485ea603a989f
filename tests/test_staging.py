"""Staging (`"stg": true`): a sandbox with the same API, where no charger is ever contacted.

`stg` travels in the JSON body (also on GET, as the seed shows) or in the query string; on
GET /queue, `stg_input` decides the outcome of a sandbox request.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support import (
    TX_KEYS,
    Operator,
    Simulators,
    api_time,
    assert_error,
    iso,
    online,
    poll_queue,
    requested_port,
)

STG = {"stg": True}


async def get(
    client: httpx.AsyncClient, path: str, via: str = "json", **args: Any
) -> httpx.Response:
    """A GET whose arguments travel in a JSON body or in the query string."""
    if via == "json":
        return await client.request("GET", path, json=args or None)
    params = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in args.items()}
    return await client.get(path, params=params)


async def stg_start(
    client: httpx.AsyncClient, port_uuid: str, delta_s: float = 600, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/transactions",
        json={"port_uuid": port_uuid, "expires": iso(delta_s), "stg": True, **extra},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"href", "queue_uuid", "transaction_uuid"}, body
    assert body["href"] == f"/queue/{body['queue_uuid']}"
    return body


async def stg_queue(
    client: httpx.AsyncClient, queue_uuid: str, stg_input: str | None = None, via: str = "json"
) -> dict[str, Any]:
    args: dict[str, Any] = {"stg": True}
    if stg_input is not None:
        args["stg_input"] = stg_input
    response = await get(client, f"/queue/{queue_uuid}", via, **args)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stg_tx(client: httpx.AsyncClient, transaction_uuid: str) -> dict[str, Any]:
    response = await client.request("GET", f"/transactions/{transaction_uuid}", json=STG)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stg_open(client: httpx.AsyncClient, port_uuid: str, **extra: Any) -> dict[str, Any]:
    created = await stg_start(client, port_uuid, **extra)
    body = await stg_queue(client, created["queue_uuid"], "Success")
    assert body["state"] == "Open", body
    return created


# -- no charger is contacted --------------------------------------------------------------------


async def test_staging_never_contacts_the_charger(op: Operator, simulators: Simulators) -> None:
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        opened = await stg_queue(client, created["queue_uuid"], "Success")
        assert opened["state"] == "Open"
        extended = await client.patch(
            f"/transactions/{created['transaction_uuid']}",
            json={"expires": iso(900), "stg": True},
        )
        assert extended.status_code == 204
        stop = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed", "stg": True}
        )
        assert stop.status_code == 202
        closed = await stg_queue(client, stop.json()["id"], "Success")
        assert closed["state"] == "Closed"
        # A production start on the other connector goes out through the same outbox; once it
        # has arrived, anything the sandbox might have sent would have arrived before it.
        real = await client.post(
            "/transactions", json={"port_uuid": charger.port_uuids[1], "expires": iso(600)}
        )
        assert real.status_code == 201
        await poll_queue(client, real.json()["queue_uuid"])
        probes = ("GetConfiguration", "GetVariables")  # asked at every boot, staging or not
        sent = [name for name, _ in sim.received if name not in probes]
        assert sent == [sim.dialect.start_request]
        assert requested_port(sim.requests(sim.dialect.start_request)[0]) == 2


async def test_staging_works_with_the_charger_offline(op: Operator) -> None:
    charger = await op.add_charger()  # no simulator: production starts fail as offline
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        assert await stg_queue(client, created["queue_uuid"]) == {
            "id": created["queue_uuid"],
            "status": "IN PROGRESS",
        }
        tx = await stg_tx(client, created["transaction_uuid"])
        assert tx["state"] == "Pending"
        opened = await stg_queue(client, created["queue_uuid"], "Success")
        assert opened["state"] == "Open"


# -- the sandbox and production do not see each other --------------------------------------------


@pytest.mark.parametrize("via", ["json", "query"])
async def test_staging_records_are_invisible_without_stg(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        tx_path = f"/transactions/{created['transaction_uuid']}"
        queue_path = f"/queue/{created['queue_uuid']}"
        assert_error(await client.get(tx_path), 404)
        assert_error(await get(client, tx_path, via, stg=False), 404)
        assert_error(await client.get(queue_path), 404)
        assert_error(await get(client, queue_path, via, stg=False), 404)
        assert_error(await get(client, "/transactions", via, port_uuid=charger.port, limit=0), 404)
        assert_error(await client.patch(tx_path, json={"state": "closed"}), 404)
        assert_error(await client.patch(tx_path, json={"expires": iso(900)}), 404)
        # ...and the sandbox still has it, untouched.
        assert (await get(client, tx_path, via, stg=True)).json()["state"] == "Pending"
        assert await stg_queue(client, created["queue_uuid"], via=via) == {
            "id": created["queue_uuid"],
            "status": "IN PROGRESS",
        }
        listed = await get(client, "/transactions", via, port_uuid=charger.port, limit=0, stg=True)
        assert [t["transaction_uuid"] for t in listed.json()] == [created["transaction_uuid"]]


@pytest.mark.parametrize("via", ["json", "query"])
async def test_production_records_are_invisible_with_stg(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = (
            await client.post(
                "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
            )
        ).json()
        tx_path = f"/transactions/{created['transaction_uuid']}"
        queue_path = f"/queue/{created['queue_uuid']}"
        assert_error(await get(client, tx_path, via, stg=True), 404)
        assert_error(await get(client, queue_path, via, stg=True), 404)
        assert_error(
            await get(client, queue_path, via, stg=True, stg_input="Success"),
            404,
        )
        assert_error(
            await get(client, "/transactions", via, port_uuid=charger.port, limit=0, stg=True),
            404,
        )
        assert_error(
            await client.patch(tx_path, json={"state": "closed", "stg": True}),
            404,
        )
        # Production still shows the real outcome (offline), unchanged by the staging calls.
        assert (await client.get(tx_path)).json()["state"] == "Failed"
        assert (await client.get(queue_path)).json()["status"] == "FAILURE"


async def test_staging_and_production_do_not_block_each_other(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    await online(simulators, op.server, charger)
    async with op.client() as client:
        sandbox = await stg_open(client, charger.port)
        real = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert real.status_code == 201, real.text
        opened = await poll_queue(client, real.json()["queue_uuid"])
        assert opened["state"] == "Open"
        # Each world still refuses a second session on its own busy port.
        again = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600), "stg": True}
        )
        assert sandbox["transaction_uuid"] in assert_error(again, 409)
        again = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert real.json()["transaction_uuid"] in assert_error(again, 409)


# -- stg_input decides the outcome ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["json", "query"])
async def test_stg_input_success_opens(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    expires = iso(1200)
    async with op.client() as client:
        response = await client.post(
            "/transactions",
            json={"port_uuid": charger.port, "expires": expires, "invoice_id": "s-1", "stg": True},
        )
        created = response.json()
        body = await stg_queue(client, created["queue_uuid"], "Success", via)
        assert set(body) == TX_KEYS, body
        assert body["transaction_uuid"] == created["transaction_uuid"]
        assert body["port_uuid"] == charger.port
        assert body["state"] == "Open"
        assert body["started"] is not None and body["ended"] is None
        assert abs(api_time(body["started"]) - datetime.now(UTC)) < timedelta(seconds=10)
        assert body["expires"] == expires[:19]
        assert body["invoice_id"] == "s-1"
        assert await stg_tx(client, created["transaction_uuid"]) == body


@pytest.mark.parametrize("via", ["json", "query"])
async def test_stg_input_failure_fails(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        body = await stg_queue(client, created["queue_uuid"], "Failure", via)
        assert set(body) == {"id", "status", "reason"}, body
        assert body["id"] == created["queue_uuid"]
        assert body["status"] == "FAILURE"
        assert isinstance(body["reason"], str) and body["reason"].strip()
        tx = await stg_tx(client, created["transaction_uuid"])
        assert tx["state"] == "Failed"
        assert tx["started"] is None
        # A failed start frees the port.
        await stg_start(client, charger.port)


@pytest.mark.parametrize("via", ["json", "query"])
async def test_stg_input_in_progress_stays_in_progress(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        expected = {"id": created["queue_uuid"], "status": "IN PROGRESS"}
        for stg_input in ("InProgress", None, "InProgress"):
            assert await stg_queue(client, created["queue_uuid"], stg_input, via) == expected
        assert (await stg_tx(client, created["transaction_uuid"]))["state"] == "Pending"
        # Still undecided: a later Success opens it.
        assert (await stg_queue(client, created["queue_uuid"], "Success", via))["state"] == "Open"


async def test_success_sticks(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        opened = await stg_queue(client, created["queue_uuid"], "Success")
        for stg_input in ("Failure", "InProgress", None, "Success"):
            assert await stg_queue(client, created["queue_uuid"], stg_input) == opened, stg_input
        assert await stg_tx(client, created["transaction_uuid"]) == opened


async def test_failure_sticks(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        failed = await stg_queue(client, created["queue_uuid"], "Failure")
        for stg_input in ("Success", "InProgress", None, "Failure"):
            assert await stg_queue(client, created["queue_uuid"], stg_input) == failed, stg_input
        assert (await stg_tx(client, created["transaction_uuid"]))["state"] == "Failed"


@pytest.mark.parametrize("via", ["json", "query"])
async def test_stg_input_without_stg_is_400(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        path = f"/queue/{created['queue_uuid']}"
        assert_error(await get(client, path, via, stg_input="Success"), 400)
        assert_error(await get(client, path, via, stg=False, stg_input="Success"), 400)
        # Nothing was decided.
        assert await stg_queue(client, created["queue_uuid"]) == {
            "id": created["queue_uuid"],
            "status": "IN PROGRESS",
        }


@pytest.mark.parametrize("via", ["json", "query"])
@pytest.mark.parametrize("bad", ["success", "SUCCESS", "Done", "", "In Progress", "Failed"])
async def test_bad_stg_input_is_400(op: Operator, via: str, bad: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        path = f"/queue/{created['queue_uuid']}"
        assert_error(await get(client, path, via, stg=True, stg_input=bad), 400)
        assert await stg_queue(client, created["queue_uuid"]) == {
            "id": created["queue_uuid"],
            "status": "IN PROGRESS",
        }


async def test_stg_input_of_wrong_type_is_400(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port)
        path = f"/queue/{created['queue_uuid']}"
        for bad in (True, 1, ["Success"], {"v": "Success"}):
            response = await client.request("GET", path, json={"stg": True, "stg_input": bad})
            assert_error(response, 400)
        for stg in ("true", 1, "yes"):
            response = await client.request("GET", path, json={"stg": stg, "stg_input": "Success"})
            assert_error(response, 400)
        assert_error(await client.get(path, params={"stg": "yes"}), 400)
        assert (await stg_tx(client, created["transaction_uuid"]))["state"] == "Pending"


# -- PATCH in the sandbox -----------------------------------------------------------------------


async def test_staging_close_is_202_then_success_closes(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_open(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        response = await client.patch(path, json={"state": "closed", "stg": True})
        assert response.status_code == 202, response.text
        body = response.json()
        assert set(body) == {"href", "id"}, body
        assert body["href"] == f"/queue/{body['id']}"
        assert body["id"] != created["queue_uuid"]
        pending = await stg_queue(client, body["id"])
        assert pending["status"] == "IN PROGRESS" and pending["id"] == body["id"], pending
        assert (await stg_tx(client, created["transaction_uuid"]))["state"] == "Open"
        closed = await stg_queue(client, body["id"], "Success")
        assert set(closed) == TX_KEYS, closed
        assert closed["transaction_uuid"] == created["transaction_uuid"]
        assert closed["state"] == "Closed"
        assert closed["ended"] is not None
        assert api_time(closed["ended"]) >= api_time(closed["started"])
        assert await stg_tx(client, created["transaction_uuid"]) == closed
        # Ended: no more changes, and the port is free.
        assert_error(await client.patch(path, json={"state": "closed", "stg": True}), 403)
        assert_error(await client.patch(path, json={"expires": iso(900), "stg": True}), 403)
        await stg_start(client, charger.port)


async def test_staging_stop_failure_leaves_it_open(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_open(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        stop = (await client.patch(path, json={"state": "closed", "stg": True})).json()
        failed = await stg_queue(client, stop["id"], "Failure")
        assert failed["status"] == "FAILURE" and failed["id"] == stop["id"], failed
        assert failed["reason"]
        assert (await stg_tx(client, created["transaction_uuid"]))["state"] == "Open"
        retry = await client.patch(path, json={"state": "closed", "stg": True})
        assert retry.status_code == 202
        assert (await stg_queue(client, retry.json()["id"], "Success"))["state"] == "Closed"


async def test_staging_stop_queue_shapes_are_the_seeds(op: Operator) -> None:
    """A stop's queue item answers in the seed's queue shapes, like a start's does."""
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_open(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        stop = (await client.patch(path, json={"state": "closed", "stg": True})).json()
        assert await stg_queue(client, stop["id"]) == {"id": stop["id"], "status": "IN PROGRESS"}
        failed = await stg_queue(client, stop["id"], "Failure")
        assert set(failed) == {"id", "status", "reason"}, failed
        assert failed["id"] == stop["id"] and failed["status"] == "FAILURE"


async def test_staging_extend_is_204(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_open(client, charger.port)
        new_expiry = iso(5400, "%Y-%m-%dT%H:%M:%SZ")
        response = await client.patch(
            f"/transactions/{created['transaction_uuid']}",
            json={"expires": new_expiry, "stg": True},
        )
        assert response.status_code == 204, response.text
        assert response.content == b""
        tx = await stg_tx(client, created["transaction_uuid"])
        assert tx["expires"] == new_expiry[:19]
        assert tx["state"] == "Open"


async def test_staging_patch_bad_arguments_are_400_and_change_nothing(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_open(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        before = await stg_tx(client, created["transaction_uuid"])
        for payload in (
            {"stg": True, "expires": iso(900), "state": "closed"},
            {"stg": True},
            {"stg": True, "state": "open"},
            {"stg": True, "expires": iso(-30)},
            {"stg": True, "expires": iso(900, "%Y-%m-%dT%H:%M:%S") + "+0100"},
            {"stg": True, "expires": 1893456000},
            {"stg": True, "state": "closed", "extra": 1},
        ):
            assert_error(await client.patch(path, json=payload), 400)
        assert await stg_tx(client, created["transaction_uuid"]) == before


# -- expiry in the sandbox ----------------------------------------------------------------------


async def test_open_staging_transaction_closes_at_expiry(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        created = await stg_start(client, charger.port, delta_s=2)
        opened = await stg_queue(client, created["queue_uuid"], "Success")
        assert opened["state"] == "Open"
        deadline = datetime.now(UTC) + timedelta(seconds=8)
        while True:
            tx = await stg_tx(client, created["transaction_uuid"])
            if tx["state"] != "Open" or datetime.now(UTC) > deadline:
                break
            await asyncio.sleep(0.1)
        assert tx["state"] == "Closed", tx
        assert tx["ended"] is not None
        expires = api_time(tx["expires"])
        assert expires <= api_time(tx["ended"]) <= expires + timedelta(seconds=3), tx
        # A closed sandbox session frees its port and refuses changes.
        assert_error(
            await client.patch(
                f"/transactions/{created['transaction_uuid']}",
                json={"state": "closed", "stg": True},
            ),
            403,
        )
        await stg_start(client, charger.port)


# -- validation is the same as in production ----------------------------------------------------


async def test_staging_validation_matches_production(op: Operator) -> None:
    charger = await op.add_charger()
    future = iso(3600)
    cases: dict[str, Any] = {
        "past": {"port_uuid": charger.port, "expires": iso(-5)},
        "missing-expires": {"port_uuid": charger.port},
        "missing-port": {"expires": future},
        "expires-number": {"port_uuid": charger.port, "expires": 1893456000},
        "port-number": {"port_uuid": 5, "expires": future},
        "invoice-number": {"port_uuid": charger.port, "expires": future, "invoice_id": 5},
        "non-utc": {
            "port_uuid": charger.port,
            "expires": iso(86400, "%Y-%m-%dT%H:%M:%S") + "+0200",
        },
        "no-zone": {"port_uuid": charger.port, "expires": iso(86400, "%Y-%m-%dT%H:%M:%S")},
        "not-uuid": {"port_uuid": "nope", "expires": future},
        "unknown-field": {"port_uuid": charger.port, "expires": future, "foo": "bar"},
    }
    async with op.client() as client:
        for name, body in cases.items():
            production = await client.post("/transactions", json=body)
            staging = await client.post("/transactions", json={**body, "stg": True})
            assert production.status_code == 400, (name, production.text)
            assert staging.status_code == 400, (name, staging.text)
            assert_error(staging, 400)
            if name == "past":
                message = assert_error(staging, 400)
                assert message.startswith("Expiry time must be in the future"), message
                assert "Current UTC time is" in message
            else:
                assert staging.json() == production.json(), name
        unknown = {"port_uuid": str(uuid.uuid4()), "expires": future, "stg": True}
        assert_error(await client.post("/transactions", json=unknown), 404)
        assert_error(
            await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, "stg": True}
            ),
            400,
        )
        assert_error(
            await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, "limit": -1, "stg": True}
            ),
            400,
        )
        assert_error(await client.request("GET", "/queue/not-a-uuid", json=STG), 400)
        assert_error(await client.request("GET", "/transactions/not-a-uuid", json=STG), 400)
        assert_error(
            await client.request("GET", f"/queue/{uuid.uuid4()}", json=STG),
            404,
        )
        # None of it created a sandbox record.
        assert_error(
            await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, "limit": 0, "stg": True}
            ),
            404,
        )


async def test_staging_needs_credentials(op: Operator) -> None:
    charger = await op.add_charger()
    async with httpx.AsyncClient(base_url=op.server.api) as anonymous:
        response = await anonymous.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600), "stg": True}
        )
        assert_error(response, 401)
        assert_error(
            await anonymous.request(
                "GET", f"/queue/{uuid.uuid4()}", json={"stg": True, "stg_input": "Success"}
            ),
            401,
        )
    async with op.client() as client:
        assert_error(
            await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, "limit": 0, "stg": True}
            ),
            404,
        )


@pytest.mark.parametrize("via", ["json", "query"])
async def test_staging_list_newest_first(op: Operator, via: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        made = []
        for stg_input in ("Failure", "Failure", "Success"):
            created = await stg_start(client, charger.port)
            await stg_queue(client, created["queue_uuid"], stg_input)
            made.append(created["transaction_uuid"])
        newest_first = list(reversed(made))
        for limit, expected in ((0, newest_first), (2, newest_first[:2]), (1, newest_first[:1])):
            response = await get(
                client, "/transactions", via, port_uuid=charger.port, limit=limit, stg=True
            )
            assert response.status_code == 200, response.text
            assert [t["transaction_uuid"] for t in response.json()] == expected
        states = [
            t["state"]
            for t in (
                await get(client, "/transactions", via, port_uuid=charger.port, limit=0, stg=True)
            ).json()
        ]
        assert states == ["Open", "Failed", "Failed"]
