"""/1.2/tokens: the operator's ID token registry. CRUD, validation, cursor pages and filters, the
sandbox kept apart, and another operator's tokens out of reach (404, as if they did not exist)."""

from __future__ import annotations

from typing import Any

import httpx

from support import Server, assert_error


async def _create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/tokens", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_crud(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        created = await _create(
            client,
            id_tag="04E4F2A2B53C80",
            status="Accepted",
            expires="2031-01-31T20:40:00Z",
            parent_id_tag="FLEET-1",
            note="van 12",
        )
        assert created["id_tag"] == "04E4F2A2B53C80"
        assert created["type"] == "ISO14443"
        assert created["status"] == "Accepted"
        assert created["expires"] == "2031-01-31T20:40:00"
        assert created["parent_id_tag"] == "FLEET-1"
        assert created["note"] == "van 12"
        assert created["created"] and created["updated"]

        # Tokens are compared without regard to letter case (OCPP CiString).
        got = await client.get("/tokens/04e4f2a2b53c80")
        assert got.status_code == 200 and got.json() == created
        again = {"id_tag": "04e4f2a2b53c80", "status": "Blocked"}
        assert_error(await client.post("/tokens", json=again), 409)

        patched = await client.patch(
            "/tokens/04E4F2A2B53C80", json={"status": "Blocked", "expires": None, "note": None}
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body["status"] == "Blocked" and body["expires"] is None and body["note"] is None
        assert body["parent_id_tag"] == "FLEET-1"  # not named, not changed
        assert (await client.get("/tokens/04E4F2A2B53C80")).json() == body

        deleted = await client.delete("/tokens/04E4F2A2B53C80")
        assert deleted.status_code == 204 and deleted.content == b""
        assert_error(await client.get("/tokens/04E4F2A2B53C80"), 404)
        assert_error(await client.delete("/tokens/04E4F2A2B53C80"), 404)
        assert_error(await client.patch("/tokens/04E4F2A2B53C80", json={"status": "Blocked"}), 404)

        # Every type a 2.0.1 charger may present a token as; 36 characters, 2.0.1's longest.
        long_tag = "A" * 36
        assert (await _create(client, id_tag=long_tag, status="Expired", type="eMAID"))[
            "type"
        ] == "eMAID"


async def test_bad_input_is_a_400_that_says_why(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        for body in (
            {},
            {"id_tag": "CARD-1"},
            {"status": "Accepted"},
            {"id_tag": "CARD-1", "status": "accepted"},
            {"id_tag": "CARD-1", "status": "Invalid"},
            {"id_tag": "A" * 37, "status": "Accepted"},
            {"id_tag": "", "status": "Accepted"},
            {"id_tag": "CARD 1", "status": "Accepted"},
            {"id_tag": "CARD/1", "status": "Accepted"},
            {"id_tag": 12, "status": "Accepted"},
            {"id_tag": "CARD-1", "status": "Accepted", "type": "Card"},
            {"id_tag": "CARD-1", "status": "Accepted", "type": None},
            {"id_tag": "CARD-1", "status": "Accepted", "expires": "tomorrow"},
            {"id_tag": "CARD-1", "status": "Accepted", "expires": "2031-01-31T20:40:00+0200"},
            {"id_tag": "CARD-1", "status": "Accepted", "parent_id_tag": "NO GOOD"},
            {"id_tag": "CARD-1", "status": "Accepted", "note": "x" * 256},
            {"id_tag": "CARD-1", "status": "Accepted", "note": "a\u0000b"},
            {"id_tag": "CARD-1", "status": "Accepted", "colour": "red"},
            {"id_tag": "CARD-1", "status": "Accepted", "stg": "yes"},
        ):
            message = assert_error(await client.post("/tokens", json=body), 400)
            assert len(message) > 10, (body, message)
        assert_error(await client.post("/tokens", content=b"[1]"), 400)
        assert (await client.get("/tokens")).json() == []

        await _create(client, id_tag="CARD-1", status="Accepted")
        bad_patches: list[dict[str, Any]] = [
            {},
            {"status": None},
            {"status": "Open"},
            {"id_tag": "CARD-2"},
            {"type": "Local"},
        ]
        for patch in bad_patches:
            assert_error(await client.patch("/tokens/CARD-1", json=patch), 400)
        assert_error(await client.get("/tokens/CARD 1"), 400)
        for query in ({"limit": -1}, {"limit": "x"}, {"cursor": "!!"}, {"status": "Open"}):
            assert_error(await client.get("/tokens", params=query), 400)
        assert (await client.get("/tokens/CARD-1")).json()["status"] == "Accepted"


async def test_pages_and_filters(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        tags = [f"CARD-{n:02d}" for n in range(7)]
        for n, tag in enumerate(tags):
            await _create(
                client,
                id_tag=tag,
                status="Blocked" if n % 3 == 0 else "Accepted",
                parent_id_tag="fleet-a" if n % 2 else None,
            )

        async def page(**args: Any) -> tuple[list[str], str | None]:
            response = await client.get("/tokens", params=args)
            assert response.status_code == 200, response.text
            return [t["id_tag"] for t in response.json()], response.headers.get("X-Next-Cursor")

        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            found, cursor = await page(limit=3, **({"cursor": cursor} if cursor else {}))
            seen += found
            pages += 1
            if cursor is None:
                break
        assert seen == tags and pages == 3  # by id_tag, nothing skipped or repeated
        assert await page() == (tags, None)
        assert (await page(status="Blocked"))[0] == ["CARD-00", "CARD-03", "CARD-06"]
        # Groups too are matched without regard to letter case.
        assert (await page(parent_id_tag="FLEET-A"))[0] == ["CARD-01", "CARD-03", "CARD-05"]
        one, after_one = await page(parent_id_tag="FLEET-A", status="Blocked", limit=1)
        assert one == ["CARD-03"] and after_one  # a full page names the next, here empty
        last = await page(parent_id_tag="FLEET-A", status="Blocked", limit=1, cursor=after_one)
        assert last == ([], None)
        filtered, next_cursor = await page(status="Accepted", limit=2)
        assert filtered == ["CARD-01", "CARD-02"] and next_cursor
        assert (await page(status="Accepted", limit=2, cursor=next_cursor))[0] == [
            "CARD-04",
            "CARD-05",
        ]
        # The seed's style works too: arguments in a JSON body of the GET.
        response = await client.request("GET", "/tokens", json={"status": "Blocked", "limit": 1})
        assert [t["id_tag"] for t in response.json()] == ["CARD-00"]


async def test_sandbox_tokens_are_a_registry_of_their_own(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        await _create(client, id_tag="CARD-S", status="Blocked", stg=True)
        assert_error(await client.get("/tokens/CARD-S"), 404)
        assert (await client.get("/tokens")).json() == []
        assert (await client.get("/tokens/CARD-S", params={"stg": "true"})).json()["status"] == (
            "Blocked"
        )
        await _create(client, id_tag="CARD-S", status="Accepted")
        staged = await client.get("/tokens", params={"stg": "true"})
        assert [(t["id_tag"], t["status"]) for t in staged.json()] == [("CARD-S", "Blocked")]
        patched = await client.patch("/tokens/CARD-S", json={"status": "Expired", "stg": True})
        assert patched.json()["status"] == "Expired"
        assert (await client.get("/tokens/CARD-S")).json()["status"] == "Accepted"
        assert (await client.delete("/tokens/CARD-S", params={"stg": "true"})).status_code == 204
        assert (await client.get("/tokens/CARD-S")).status_code == 200


async def test_another_operators_tokens_are_a_404(shared_server: Server) -> None:
    owner = await shared_server.operator()
    other = await shared_server.operator()
    async with owner.client() as mine, other.client() as theirs:
        for stg in (False, True):
            await _create(mine, id_tag="CARD-B", status="Accepted", note="owner's", stg=stg)
        for stg in ({}, {"stg": "true"}):
            assert_error(await theirs.get("/tokens/CARD-B", params=stg), 404)
            assert_error(await theirs.delete("/tokens/CARD-B", params=stg), 404)
            assert (await theirs.get("/tokens", params={**stg, "parent_id_tag": "X"})).json() == []
            assert (await theirs.get("/tokens", params=stg)).json() == []
        assert_error(await theirs.patch("/tokens/CARD-B", json={"status": "Blocked"}), 404)
        assert_error(
            await theirs.patch("/tokens/CARD-B", json={"status": "Blocked", "stg": True}), 404
        )
        # The same card number is the other operator's to register as well (not a 409).
        assert (await _create(theirs, id_tag="card-b", status="Blocked"))["status"] == "Blocked"
        for stg in ({}, {"stg": "true"}):
            body = (await mine.get("/tokens/CARD-B", params=stg)).json()
            assert body["status"] == "Accepted" and body["note"] == "owner's"
        assert [t["id_tag"] for t in (await theirs.get("/tokens")).json()] == ["card-b"]
