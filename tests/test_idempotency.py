"""Idempotency-Key: a retried POST or PATCH replays the first answer and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from chargegate.domain.times import utcnow
from chargegate.store import operators as operator_store
from chargegate.store.database import create_engine, is_sqlite, session_factory
from chargegate.store.idempotency import RETENTION, SWEEP_SLACK
from chargegate.store.models import IdempotencyRecord
from support import (
    Server,
    Simulators,
    assert_error,
    eventually,
    iso,
    online,
    poll_queue,
)


async def test_retried_start_starts_once(shared_server: Server, simulators: Simulators) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, shared_server, charger)
    body = {"port_uuid": charger.port, "expires": iso(600)}
    headers = {"Idempotency-Key": "start-1"}
    async with operator.client() as client:
        first = await client.post("/transactions", json=body, headers=headers)
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        again = await client.post("/transactions", json=body, headers=headers)
        assert again.status_code == 201 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        await poll_queue(client, first.json()["queue_uuid"])
        listed = await client.request(
            "GET", "/transactions", json={"port_uuid": charger.port, "limit": 0}
        )
        assert [t["transaction_uuid"] for t in listed.json()] == [first.json()["transaction_uuid"]]
        assert sim.start_requests == 1

        other = await client.post(
            "/transactions", json={**body, "invoice_id": "x"}, headers=headers
        )
        assert "different request" in assert_error(other, 422)


async def test_retried_patch_stops_once(shared_server: Server, simulators: Simulators) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, shared_server, charger)
    async with operator.client() as client:
        created = await client.post(
            "/transactions", json={"port_uuid": charger.port, "expires": iso(600)}
        )
        await poll_queue(client, created.json()["queue_uuid"])
        path = f"/transactions/{created.json()['transaction_uuid']}"
        extend = {"expires": iso(900)}
        for _ in range(2):
            extended = await client.patch(path, json=extend, headers={"Idempotency-Key": "ext"})
            assert extended.status_code == 204

        def stop() -> Awaitable[httpx.Response]:
            return client.patch(path, json={"state": "closed"}, headers={"Idempotency-Key": "s"})

        # Sent together: one runs; the others wait for its key, then replay its answer (or, on
        # PostgreSQL, may be told it still runs).
        together = await asyncio.gather(*(stop() for _ in range(8)))
        assert {r.status_code for r in together} <= {202, 409}, [r.text for r in together]
        stopped = {r.json()["id"] for r in together if r.status_code == 202}
        assert len(stopped) == 1, [r.text for r in together]
        again = await stop()
        assert again.status_code == 202 and again.json()["id"] in stopped
        await poll_queue(client, again.json()["id"])
        await asyncio.sleep(0.5)
        assert sim.stop_requests == 1


async def test_errors_are_not_kept_and_keys_are_per_operator(shared_server: Server) -> None:
    first, second = await shared_server.operator(), await shared_server.operator()
    charger = await first.add_charger()  # offline: the start fails, but it is accepted
    unknown = {"port_uuid": "00000000-0000-4000-8000-000000000000", "expires": iso(600)}
    headers = {"Idempotency-Key": "shared-key"}
    async with first.client() as client:
        for _ in range(2):  # an error changed nothing, so the retry really runs again
            assert_error(await client.post("/transactions", json=unknown, headers=headers), 404)
        body = {"port_uuid": charger.port, "expires": iso(600)}
        accepted = await client.post("/transactions", json=body, headers=headers)
        assert accepted.status_code == 201
        too_long = await client.post(
            "/transactions", json=body, headers={"Idempotency-Key": "k" * 256}
        )
        assert_error(too_long, 400)
    async with second.client() as client:
        # The same key from another operator is another request altogether.
        assert_error(await client.post("/transactions", json=unknown, headers=headers), 404)


async def test_concurrent_retries_start_once(shared_server: Server, simulators: Simulators) -> None:
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, shared_server, charger)
    body = {"port_uuid": charger.port, "expires": iso(600)}
    async with operator.client() as client:
        answers = await asyncio.gather(
            *(
                client.post("/transactions", json=body, headers={"Idempotency-Key": "race"})
                for _ in range(8)
            )
        )
        created = {r.json()["transaction_uuid"] for r in answers if r.status_code == 201}
        assert len(created) == 1, [r.text for r in answers]
        assert {r.status_code for r in answers} <= {201, 409}
        await poll_queue(
            client, next(r for r in answers if r.status_code == 201).json()["queue_uuid"]
        )
        assert sim.start_requests == 1


async def set_recording_fails(server: Server, key: str, fails: bool) -> None:
    """A database that refuses to write the answer to `key` into its idempotency record (an
    UPDATE of that row), as a crash or a lost connection at that moment would."""
    name = f"refuse_{key.replace('-', '_')}"
    if is_sqlite(server.database_url):
        statements = (
            [
                f"CREATE TRIGGER {name} BEFORE UPDATE ON idempotency_keys "
                f"WHEN NEW.key = '{key}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
            ]
            if fails
            else [f"DROP TRIGGER {name}"]
        )
    else:
        statements = (
            [
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected'; END $$",
                f"CREATE TRIGGER {name} BEFORE UPDATE ON idempotency_keys FOR EACH ROW "
                f"WHEN (NEW.key = '{key}') EXECUTE FUNCTION {name}()",
            ]
            if fails
            else [f"DROP TRIGGER {name} ON idempotency_keys", f"DROP FUNCTION {name}()"]
        )
    engine = create_engine(server.database_url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def recorded_status(server: Server, key: str) -> int | bool | None:
    """The status code recorded for `key`; None while it has none; False without a record."""
    engine = create_engine(server.database_url)
    try:
        async with engine.connect() as connection:
            found = (
                await connection.execute(
                    select(IdempotencyRecord.status_code).where(IdempotencyRecord.key == key)
                )
            ).one_or_none()
    finally:
        await engine.dispose()
    return False if found is None else found.status_code


async def test_a_start_and_its_record_commit_together(shared_server: Server) -> None:
    """The record of a key is written in the transaction of the change it guards: when it
    cannot be written, the change is not made either, and a retry with the key makes it once.
    (Were they written apart, the start would exist beside a key stuck "in progress": 409 for
    every retry.)"""
    operator = await shared_server.operator()
    charger = await operator.add_charger()  # offline: the start fails, but it is accepted
    key = f"atomic-{uuid.uuid4().hex[:12]}"
    body = {"port_uuid": charger.port, "expires": iso(600)}
    listing = {"port_uuid": charger.port, "limit": 0}
    async with operator.client() as client:
        await set_recording_fails(shared_server, key, True)
        try:
            assert_error(
                await client.post("/transactions", json=body, headers={"Idempotency-Key": key}),
                500,
            )
        finally:
            await set_recording_fails(shared_server, key, False)
        listed = await client.request("GET", "/transactions", json=listing)
        assert_error(listed, 404)  # no transaction on the port...
        assert await recorded_status(shared_server, key) is False  # ...and no record
        first = await client.post("/transactions", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        again = await client.post("/transactions", json=body, headers={"Idempotency-Key": key})
        assert again.headers["Idempotent-Replayed"] == "true"
        assert (again.status_code, again.content) == (201, first.content)
        assert await recorded_status(shared_server, key) == 201
        listed = await client.request("GET", "/transactions", json=listing)
        assert [t["transaction_uuid"] for t in listed.json()] == [first.json()["transaction_uuid"]]


async def add_records(
    server: Server, operator_name: str, records: dict[str, tuple[str, datetime]]
) -> None:
    """Records put straight into the database: by key, the request (its fingerprint's text)
    and when it took the key; none answered yet."""
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            owner = await operator_store.get_or_create_operator(session, operator_name, utcnow())
            for key, (request, created_at) in records.items():
                session.add(
                    IdempotencyRecord(
                        operator_id=owner.id,
                        key=key,
                        fingerprint=hashlib.sha256(request.encode()).hexdigest(),
                        status_code=None,
                        created_at=created_at,
                    )
                )
    finally:
        await engine.dispose()


async def test_a_key_without_an_answer_names_the_endpoint_called(shared_server: Server) -> None:
    """A key whose first request has no answer yet is refused with 409, which tells the client
    to check the endpoint it called (not another one) before trying with a new key."""
    operator = await shared_server.operator()
    charger = await operator.add_charger()
    requests = {
        "/1.2/tokens:import": {"tokens": [{"id_tag": "CARD-I", "status": "Accepted"}]},
        "/1.2/transactions": {"port_uuid": charger.port, "expires": iso(600)},
    }
    await add_records(
        shared_server,
        operator.name,
        {
            f"stuck {path}": (f"POST {path}\n" + json.dumps(body), utcnow())
            for path, body in requests.items()
        },
    )
    async with operator.client() as client:
        for path, body in requests.items():
            answer = await client.post(
                path.removeprefix("/1.2"),
                content=json.dumps(body),
                headers={"Idempotency-Key": f"stuck {path}", "content-type": "application/json"},
            )
            text = assert_error(answer, 409)
            assert f"POST {path} took effect" in text, text
        assert (await client.get("/tokens")).json() == []  # nothing ran


async def test_a_key_past_its_retention_is_free_again(shared_server: Server) -> None:
    """A retry after RETENTION is a new request, though the old record is still there (the
    sweep deletes it later): the new request takes the key over."""
    operator = await shared_server.operator()
    charger = await operator.add_charger()  # offline: the start fails, but it is accepted
    body = {"port_uuid": charger.port, "expires": iso(600)}
    request = "POST /1.2/transactions\n" + json.dumps(body)
    old = utcnow() - RETENTION - timedelta(minutes=1)
    await add_records(shared_server, operator.name, {"old": (request, old)})
    async with operator.client() as client:
        answers = [
            await client.post("/transactions", json=body, headers={"Idempotency-Key": "old"})
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert "Idempotent-Replayed" not in answers[0].headers
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[1].content == answers[0].content
    assert await recorded_status(shared_server, "old") == 201  # one record, the new one


async def test_keys_past_their_retention_are_swept_without_a_request(
    shared_server: Server,
) -> None:
    """Keys past RETENTION are deleted by the scheduler once due (SWEEP_SLACK later), with no
    keyed request needed to clear them; keys within it stay."""
    operator = await shared_server.operator()
    now = utcnow()
    stale = now - RETENTION - SWEEP_SLACK - timedelta(minutes=1)
    await add_records(
        shared_server,
        operator.name,
        {
            "swept": ("any", stale),
            "swept too": ("any", now - RETENTION - timedelta(minutes=1)),
            "kept": ("any", now - RETENTION + timedelta(minutes=10)),
        },
    )

    async def swept() -> bool:
        return await recorded_status(shared_server, "swept") is False

    await eventually(swept)
    assert await recorded_status(shared_server, "swept too") is False
    assert await recorded_status(shared_server, "kept") is None
