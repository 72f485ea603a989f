"""Starts sent at once (services.api_writes: one shared write transaction on SQLite, one each on
PostgreSQL): each still gets its own answer, an error in one undoes only that one, and every 201
is committed."""

from __future__ import annotations

import asyncio
import uuid

from support import Server, assert_error, iso


async def test_starts_sent_together_are_answered_each_on_its_own(shared_server: Server) -> None:
    operator = await shared_server.operator()
    chargers = [await operator.add_charger() for _ in range(6)]
    # Staging starts stay pending (no charger is asked), so a second one on a port finds it busy.
    bodies = [{"port_uuid": c.port, "expires": iso(600), "stg": True} for c in chargers]
    # The same port twice: one of the two starts, the other finds it busy.
    bodies.append(bodies[0])
    bodies += [{"port_uuid": str(uuid.uuid4()), "expires": iso(600), "stg": True} for _ in "abc"]
    async with operator.client() as client:
        answers = await asyncio.gather(
            *(client.post("/transactions", json=body) for body in bodies)
        )
        statuses = [answer.status_code for answer in answers]
        assert sorted(statuses[1:6]) == [201] * 5
        assert sorted([statuses[0], statuses[6]]) == [201, 409], statuses
        for answer in answers[7:]:
            assert "not found" in assert_error(answer, 404)
        # Every 201 is there to read, on its port, and only one on the port asked twice.
        for body in bodies[:6]:
            listing = {"port_uuid": body["port_uuid"], "limit": 10, "stg": True}
            listed = await client.request("GET", "/transactions", json=listing)
            assert listed.status_code == 200, listed.text
            assert len(listed.json()) == 1
        for answer in answers:
            if answer.status_code == 201:
                queue_uuid = answer.json()["queue_uuid"]
                polled = await client.request("GET", f"/queue/{queue_uuid}", json={"stg": True})
                assert polled.status_code == 200, polled.text
