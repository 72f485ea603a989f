"""GET /1.2/transactions beyond the seed: cursor pages and since/until/state filters; the same
pages for GET /1.2/ports; every list streamed."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from chargegate.services.listing import BATCH
from support import Server, assert_error, iso


async def test_cursor_pages_and_filters(shared_server: Server) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger()  # offline: each start fails at once, freeing the port
    async with operator.client() as client:
        created = []
        for _ in range(5):
            response = await client.post(
                "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
            )
            assert response.status_code == 201
            created.append(response.json()["transaction_uuid"])

        async def page(**args: Any) -> tuple[list[str], str | None]:
            response = await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, **args}
            )
            assert response.status_code == 200, response.text
            return [t["transaction_uuid"] for t in response.json()], response.headers.get(
                "X-Next-Cursor"
            )

        seen, cursor, pages = [], None, 0
        while True:
            found, cursor = await page(limit=2, **({"cursor": cursor} if cursor else {}))
            seen += found
            pages += 1
            if cursor is None:
                break
        assert pages == 3 and seen == created[::-1]  # newest first, nothing skipped or repeated
        everything, no_more = await page(limit=0)
        assert everything == seen and no_more is None

        assert (await page(limit=0, state="Failed"))[0] == seen
        assert (await page(limit=0, state="Open"))[0] == []
        assert (await page(limit=0, since=iso(3600)))[0] == []
        assert (await page(limit=0, until=iso(-3600)))[0] == []
        assert (await page(limit=0, since=iso(-3600), until=iso(3600)))[0] == seen
        # Query string arguments work as well as the seed's GET body.
        response = await client.get(
            "/transactions", params={"port_uuid": charger.port, "limit": 1, "state": "Failed"}
        )
        assert [t["transaction_uuid"] for t in response.json()] == seen[:1]
        assert response.headers["X-Next-Cursor"]

        for bad in ({"cursor": "not-a-cursor"}, {"state": "open"}, {"since": "yesterday"}):
            response = await client.request(
                "GET", "/transactions", json={"port_uuid": charger.port, "limit": 0, **bad}
            )
            assert_error(response, 400)


async def test_cursors_no_column_holds_are_400_not_500(shared_server: Server) -> None:
    """A cursor is client input: an id beyond 2^63 used to reach SQLite as an OverflowError
    (beyond 2^31, PostgreSQL's integer column refused it), and a time an offset pushes past
    year 9999 overflowed while being stored as UTC; each was a 500."""
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    async with operator.client() as client:
        created = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        assert created.status_code == 201
        for raw in (
            f"2030-01-01T00:00:00+00:00|{2**64}",
            f"2030-01-01T00:00:00+00:00|{2**40}",
            "2030-01-01T00:00:00+00:00|-1",
            "9999-12-31T23:00:00-05:00|1",
            "0001-01-01T00:30:00+14:00|1",
        ):
            response = await client.get(
                "/transactions",
                params={"port_uuid": charger.port, "limit": 1, "cursor": _cursor(raw)},
            )
            assert "cursor" in assert_error(response, 400), raw
        for raw in (
            f"{2**64}|CP-1",
            f"{2**31}|CP-1",
            "-1|CP-1",
            "1",
            "1|CP\u0000-1",  # PostgreSQL cannot bind a NUL: it was a 500
            "1|CP\n1",
            "1|" + "X" * 49,
        ):
            response = await client.get("/ports", params={"limit": 1, "cursor": _cursor(raw)})
            assert "cursor" in assert_error(response, 400), raw


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def test_ports_come_in_pages_and_without_arguments_all_at_once(shared_server: Server) -> None:
    """GET /1.2/ports takes limit and cursor as GET /1.2/transactions does; without them the
    answer is the list it always was. Ids with '|' (allowed by OCPP) page correctly too."""
    operator = await shared_server.operator()
    ids = [f"P{uuid.uuid4().hex[:6]}|{n}" for n in range(3)]
    for cp_id in ids:
        await operator.add_charger(connectors=2, cp_id=cp_id)
    expected = [(cp_id, connector) for cp_id in sorted(ids) for connector in (1, 2)]
    async with operator.client() as client:
        everything = await client.get("/ports")
        assert everything.status_code == 200, everything.text
        assert "X-Next-Cursor" not in everything.headers
        assert [(p["charge_point_id"], p["connector_id"]) for p in everything.json()] == expected
        assert all(
            set(p) == {"port_uuid", "charge_point_id", "connector_id", "status", "online"}
            for p in everything.json()
        )
        assert (await client.get("/ports", params={"limit": 0})).json() == everything.json()

        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 4}
            if cursor:
                params["cursor"] = cursor
            page = await client.get("/ports", params=params)
            assert page.status_code == 200, page.text
            seen += page.json()
            pages += 1
            cursor = page.headers.get("X-Next-Cursor")
            if cursor is None:
                break
        assert pages == 2 and seen == everything.json()
        # The seed's style works too: arguments in a JSON body.
        body = await client.request("GET", "/ports", json={"limit": 5})
        assert body.json() == everything.json()[:5] and body.headers["X-Next-Cursor"]

        for bad in ({"limit": -1}, {"limit": "many"}, {"cursor": 7}):
            assert_error(await client.request("GET", "/ports", json=bad), 400)


async def test_all_is_streamed_in_order(shared_server: Server) -> None:
    """limit 0 ("all", as the seed says) over more rows than one read takes: the answer is
    streamed (chunked, no Content-Length: the server never held the whole list), newest first,
    nothing skipped or repeated across the reads."""
    operator = await shared_server.operator()
    charger = await operator.add_charger()  # offline: each start fails at once, freeing the port
    async with operator.client() as client:

        async def start() -> str:
            response = await client.post(
                "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
            )
            assert response.status_code == 201, response.text
            return str(response.json()["transaction_uuid"])

        created: list[str] = []
        for _ in range((BATCH + 20) // 20):
            created += await asyncio.gather(*(start() for _ in range(20)))
        async with client.stream(
            "GET", "/transactions", params={"port_uuid": charger.port, "limit": 0}
        ) as response:
            assert response.status_code == 200
            assert response.headers.get("transfer-encoding") == "chunked", response.headers
            assert "content-length" not in response.headers
            text = (await response.aread()).decode()
        listed = [t["transaction_uuid"] for t in json.loads(text)]
        assert len(listed) == len(created) > BATCH
        assert sorted(listed) == sorted(created) and len(set(listed)) == len(listed)
        newest_first = await client.get(
            "/transactions", params={"port_uuid": charger.port, "limit": 0, "state": "Failed"}
        )
        assert [t["transaction_uuid"] for t in newest_first.json()] == listed
        # Pages of more than one read carry the cursor of their last row.
        page = await client.get(
            "/transactions", params={"port_uuid": charger.port, "limit": BATCH + 1}
        )
        assert [t["transaction_uuid"] for t in page.json()] == listed[: BATCH + 1]
        rest = await client.get(
            "/transactions",
            params={
                "port_uuid": charger.port,
                "limit": BATCH + 1,
                "cursor": page.headers["X-Next-Cursor"],
            },
        )
        assert [t["transaction_uuid"] for t in rest.json()] == listed[BATCH + 1 :]
