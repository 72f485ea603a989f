"""Commands on a charger through the API (POST /1.2/chargers/<id>/commands), followed through
their queue item: ClearCache first, to simulated chargers of both OCPP versions, real ones'
refusals and silences included."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from support import (
    Operator,
    Server,
    Simulators,
    assert_error,
    online,
    poll_queue,
    raw_charger,
)
from test_webhooks import Receiver, until

pytestmark = pytest.mark.server_env({"CHARGEGATE_COMMAND_TIMEOUT_S": "4"})


async def send(
    client: httpx.AsyncClient, charge_point_id: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(f"/chargers/{charge_point_id}/commands", json=body, headers=headers)


async def queued(client: httpx.AsyncClient, charge_point_id: str, **body: Any) -> str:
    """POST a command; returns its queue item's id after checking the 202's shape."""
    response = await send(client, charge_point_id, body)
    assert response.status_code == 202, response.text
    queue_uuid: str = response.json()["id"]
    assert response.json() == {"href": f"/queue/{queue_uuid}", "id": queue_uuid}
    return queue_uuid


async def test_clear_cache_accepted(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        queue_uuid = await queued(client, charger.charge_point_id, action="clear_cache")
        done = await poll_queue(client, queue_uuid)
    assert done == {
        "id": queue_uuid,
        "status": "SUCCESS",
        "command": "clear_cache",
        "result": {"status": "Accepted"},
    }
    assert sim.requests("ClearCache") == [{}]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Rejected", "The charger rejected ClearCache (Rejected)"),
        # A charger that does not implement it refuses with a CALLERROR.
        (None, "The charger does not support ClearCache (it answered NotSupported"),
    ],
    ids=["rejected", "not-supported"],
)
async def test_clear_cache_refused(
    server: Server, simulators: Simulators, answer: str | None, reason: str
) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    await online(simulators, server, charger, clear_cache=answer)
    async with operator.client() as client:
        queue_uuid = await queued(client, charger.charge_point_id, command="clear_cache")
        failed = await poll_queue(client, queue_uuid)
    assert failed["status"] == "FAILURE", failed
    assert failed["command"] == "clear_cache"
    assert failed["reason"].startswith(reason), failed


async def test_unanswered_command_fails_at_its_deadline(server: Server) -> None:
    """A charger that takes the CALL and never answers: the queue item fails when
    CHARGEGATE_COMMAND_TIMEOUT_S (4 s here) has passed, and says why."""
    operator = await server.operator()
    async with raw_charger(operator, "ocpp1.6") as (raw, charger), operator.client() as client:
        queue_uuid = await queued(client, charger.charge_point_id, command="clear_cache")
        async with asyncio.timeout(10):
            # It answers nothing (the probe after its boot included), ClearCache least of all.
            while (frame := json.loads(await raw.ws.recv()))[2] != "ClearCache":
                pass
        assert frame[3] == {}
        failed = await poll_queue(client, queue_uuid)
    assert failed["status"] == "FAILURE"
    assert "did not answer the command within 4 s" in failed["reason"], failed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {},
            "Missing field: action (one of: clear_cache, get_local_list_version, send_local_list",
        ),
        ({"action": "reboot_everything"}, "action must be one of: clear_cache"),
        ({"command": ["clear_cache"]}, "command must be one of: clear_cache"),
        ({"action": "clear_cache", "command": "clear_cache"}, "not both action and command"),
        ({"action": "clear_cache", "stg": "yes"}, "stg must be a boolean (true or false)"),
        ({"action": "clear_cache", "force": True}, "Unknown field(s): force"),
        ({"action": "clear_cache", "params": []}, "params must be a JSON object"),
        (
            {"action": "clear_cache", "params": {"port": 1}},
            "Unknown param(s): port. clear_cache takes no params",
        ),
        (
            {"action": "reset", "params": {"type": "hard", "delay": 5, "at": 1}},
            "Unknown param(s): at, delay. reset takes: type, evse",
        ),
        ({"action": "reset"}, "Missing param: type (one of: soft, hard, immediate, on_idle)"),
        ({"action": "reset", "params": {"type": "hard", "evse": 0}}, "evse must be a whole"),
        ({"action": "clear_cache", "expires": "tomorrow"}, "expires: "),
        (
            {"action": "clear_cache", "expires": "2020-01-01T00:00:00Z"},
            "Expiry time must be in the future",
        ),
    ],
)
async def test_bad_commands_are_refused(op: Operator, body: dict[str, Any], message: str) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        response = await send(client, charger.charge_point_id, body)
    assert message in assert_error(response, 400)


# What each version refuses to take, and why.
REFUSED_PARAMS = {
    "1.6": [
        ({"type": "on_idle"}, "reset on an OCPP 1.6 charger: type must be soft or hard"),
        ({"type": "hard", "evse": 1}, "reset on an OCPP 1.6 charger: evse is not taken"),
    ],
    "2.0.1": [
        (
            {"type": "soft"},
            "reset on an OCPP 2.0.1 charger: type must be immediate (ends transactions, then "
            "resets) or on_idle",
        ),
    ],
}


async def test_params_a_version_does_not_take(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """A charger's version (as it last connected) decides which params it can be sent: 400,
    naming the version, and nothing sent."""
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger)
    async with op.client() as client:
        for params, message in REFUSED_PARAMS[simulators.ocpp_version]:
            body = {"action": "reset", "params": params}
            response = await send(client, charger.charge_point_id, body)
            assert message in assert_error(response, 400)
    assert sim.requests("Reset") == []


async def test_bad_and_unknown_chargers(op: Operator) -> None:
    async with op.client() as client:
        too_long = await send(client, "X" * 49, {"command": "clear_cache"})
        unknown = await send(client, "NO-SUCH-CHARGER", {"command": "clear_cache"})
    assert "charge point id" in assert_error(too_long, 400)
    assert "no charger NO-SUCH-CHARGER" in assert_error(unknown, 404)


async def test_staging_contacts_no_charger(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        queue_uuid = await queued(client, charger.charge_point_id, command="clear_cache", stg=True)
        # Staging items are only found as staging ones.
        assert (await client.get(f"/queue/{queue_uuid}")).status_code == 404
        waiting = (await client.get(f"/queue/{queue_uuid}", params={"stg": "true"})).json()
        assert waiting == {"id": queue_uuid, "status": "IN PROGRESS", "command": "clear_cache"}
        done = (
            await client.get(f"/queue/{queue_uuid}", params={"stg": "true", "stg_input": "Success"})
        ).json()
    assert done["status"] == "SUCCESS"
    assert done["result"] == "Staging: no charger was contacted"
    assert sim.requests("ClearCache") == []


async def test_a_retry_with_the_same_key_sends_once(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    body = {"command": "clear_cache"}
    async with operator.client() as client:
        first = await send(client, charger.charge_point_id, body, **{"Idempotency-Key": "cc-1"})
        again = await send(client, charger.charge_point_id, body, **{"Idempotency-Key": "cc-1"})
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        await poll_queue(client, first.json()["id"])
    assert len(sim.requests("ClearCache")) == 1


async def test_the_resolved_command_is_a_webhook_event(
    server: Server, simulators: Simulators
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        operator = await server.operator()
        await provisioning.add_webhook(server.settings, operator.name, receiver.url)
        charger = await operator.add_charger()
        await online(simulators, server, charger)
        async with operator.client() as client:
            queue_uuid = await queued(client, charger.charge_point_id, command="clear_cache")
            await poll_queue(client, queue_uuid)
        await until(lambda: "queue_item.resolved" in receiver.types())
    finally:
        await receiver.stop()
    [event] = [e for e in receiver.events() if e["type"] == "queue_item.resolved"]
    assert event["data"] == {
        "id": queue_uuid,
        "kind": "command",
        "status": "SUCCESS",
        "reason": None,
    }
