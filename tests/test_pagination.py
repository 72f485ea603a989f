"""GET /1.2/transactions beyond the seed: cursor pages and since/until/state filters."""

from __future__ import annotations

from typing import Any

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
