"""Reservations (/1.2/reservations): ReserveNow and CancelReservation through the outbox, and
what becomes of a reservation, against our simulator (both OCPP versions, stations' refusals
included) and the strict-schema charger we did not write. The OCA OCPP 1.6 test cases named
are the CSMS side of TC_046, TC_048_1..4, TC_051 and TC_052."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from chargegate.domain.cursors import RowMark
from chargegate.domain.states import (
    ChargerAction,
    ReservationAction,
    ReservationState,
    TransactionAction,
    command_action,
)
from chargegate.domain.times import parse_utc
from chargegate.sim.charger import SimulatedCharger
from support import (
    RESTART_ENV,
    Operator,
    Server,
    Simulators,
    api_time,
    assert_error,
    eventually,
    iso,
    online,
    poll_json,
    poll_queue,
    start_session,
)
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_webhooks import Receiver, until

CARD = "CARD-R"
GROUP = "FLEET-R"
# Another card of the group.
MATE = "CARD-R2"
DIALECTS = pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])


async def with_cards(operator: Operator) -> None:
    async with operator.client() as client:
        for card in (
            {"id_tag": GROUP, "status": "Accepted"},
            {"id_tag": CARD, "status": "Accepted", "parent_id_tag": GROUP},
            {"id_tag": MATE, "status": "Accepted", "parent_id_tag": GROUP},
            {"id_tag": "CARD-LOST", "status": "Blocked"},
            # The sandbox has a registry of its own.
            {"id_tag": CARD, "status": "Accepted", "stg": True},
        ):
            assert (await client.post("/tokens", json=card)).status_code == 201


async def reserve(
    client: httpx.AsyncClient, *, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    """POST a reservation; returns the 202's body after checking its shape."""
    body = {"id_tag": CARD, "expires": iso(600), **body}
    response = await client.post("/reservations", json=body, headers=headers or {})
    assert response.status_code == 202, response.text
    made: dict[str, Any] = response.json()
    assert made == {
        "href": f"/queue/{made['id']}",
        "id": made["id"],
        "reservation_uuid": made["reservation_uuid"],
    }
    return made


async def reservation(
    client: httpx.AsyncClient,
    made: dict[str, Any],
    state: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """GET the reservation (once it is in `state`)."""
    return await poll_json(
        client,
        f"/reservations/{made['reservation_uuid']}",
        lambda body: state is None or body["state"] == state,
        timeout,
        None,
    )


async def cancel(client: httpx.AsyncClient, made: dict[str, Any]) -> httpx.Response:
    path = f"/reservations/{made['reservation_uuid']}"
    return await client.patch(path, json={"state": "cancelled"})


@asynccontextmanager
async def hooked(server: Server, operator: Operator) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    try:
        await provisioning.add_webhook(server.settings, operator.name, receiver.url)
        yield receiver
    finally:
        await receiver.stop()


def reservation_events(receiver: Receiver) -> list[str]:
    return [e["type"] for e in receiver.events() if e["type"].startswith("reservation.")]


async def port_status(client: httpx.AsyncClient, port_uuid: str, status: str) -> None:
    async def reached() -> bool:
        ports = (await client.get("/ports")).json()
        return any(p["port_uuid"] == port_uuid and p["status"] == status for p in ports)

    await eventually(reached)


def reserve_now(sim: SimulatedCharger) -> dict[str, Any]:
    [payload] = sim.requests("ReserveNow")
    return payload


# -- simulator ----------------------------------------------------------------------------------


async def test_tc046_a_reservation_is_used_by_its_card(
    server: Server, simulators: Simulators
) -> None:
    """TC_046: ReserveNow on connector 1 is Accepted, the connector shows Reserved, the card
    starts a session there naming the reservation: it is used by that session."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    expires = iso(600)
    async with hooked(server, operator) as receiver, operator.client() as client:
        made = await reserve(client, port_uuid=charger.port, expires=expires)
        done = await poll_queue(client, made["id"])
        assert done == {
            "id": made["id"],
            "status": "SUCCESS",
            "command": "reserve",
            "result": {"status": "Accepted"},
        }
        held = await reservation(client, made, "reserved")
        sent = reserve_now(sim)
        if simulators.ocpp_version == "1.6":
            assert sent.keys() == {"connectorId", "expiryDate", "idTag", "reservationId"}
            assert (sent["connectorId"], sent["idTag"]) == (1, CARD)
            expiry, reservation_id = sent["expiryDate"], sent["reservationId"]
        else:
            assert sent.keys() == {"id", "expiryDateTime", "idToken", "evseId"}
            assert sent["evseId"] == 1
            assert sent["idToken"] == {"idToken": CARD, "type": "ISO14443"}
            expiry, reservation_id = sent["expiryDateTime"], sent["id"]
        assert expiry.endswith("Z") and parse_utc(expiry) == parse_utc(expires)
        await port_status(client, charger.port, "Reserved")

        assert await sim.present_card(1, CARD) == "Accepted"
        used = await reservation(client, made, "used")
        [transaction] = (
            await client.get("/transactions", params=dict(port_uuid=charger.port, limit=0))
        ).json()
        await until(lambda: "reservation.used" in reservation_events(receiver))
    started = sim.connectors[1]
    assert started.transaction_id is not None
    assert used["transaction_uuid"] == transaction["transaction_uuid"]
    assert used["ended"] is not None and used["reason"] is None
    assert {k: held[k] for k in ("port_uuid", "id_tag", "charge_point_id")} == {
        "port_uuid": charger.port,
        "id_tag": CARD,
        "charge_point_id": charger.charge_point_id,
    }
    assert reservation_id > 0
    assert reservation_events(receiver) == ["reservation.reserved", "reservation.used"]
    used_event = next(e for e in receiver.events() if e["type"] == "reservation.used")
    assert used_event["data"] == used


@pytest.mark.parametrize(
    ("refusal", "options"),
    [
        ("Faulted", {}),  # TC_048_1
        ("Occupied", {}),  # TC_048_2
        ("Unavailable", {}),  # TC_048_3
        ("Rejected", {"reservations": "Rejected"}),  # TC_048_4: reservations switched off
    ],
)
async def test_tc048_a_refused_reservation_fails(
    server: Server, simulators: Simulators, refusal: str, options: dict[str, Any]
) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, **options)
    if refusal in ("Faulted", "Unavailable"):
        await sim.set_status(sim.connectors[1], refusal)
    elif refusal == "Occupied":
        assert await sim.present_card(1, CARD) == "Accepted"
        await sim.wait_until(lambda: sim.connectors[1].status == "Charging")
    async with operator.client() as client:
        made = await reserve(client, port_uuid=charger.port)
        failed = await poll_queue(client, made["id"])
        gone = await reservation(client, made, "failed")
    reason = f"The charger refused the reservation (ReserveNow: {refusal})"
    assert failed == {"id": made["id"], "status": "FAILURE", "command": "reserve", "reason": reason}
    assert gone["reason"] == reason and gone["ended"] is not None


async def test_a_charger_without_reservations_says_so(
    server: Server, simulators: Simulators
) -> None:
    """No Reservation profile: the charger answers with a CALLERROR, which the queue item and
    the failed reservation quote."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    await online(simulators, server, charger, reservations=None)
    async with operator.client() as client:
        made = await reserve(client, port_uuid=charger.port)
        failed = await poll_queue(client, made["id"])
        gone = await reservation(client, made, "failed")
    assert failed["reason"].startswith("The charger does not support ReserveNow (it answered Not")
    assert gone["reason"] == failed["reason"]


async def test_tc051_a_reservation_is_cancelled(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    async with hooked(server, operator) as receiver, operator.client() as client:
        made = await reserve(client, port_uuid=charger.port)
        await reservation(client, made, "reserved")
        await port_status(client, charger.port, "Reserved")
        response = await cancel(client, made)
        assert response.status_code == 202, response.text
        queue_uuid = response.json()["id"]
        assert response.json() == {"href": f"/queue/{queue_uuid}", "id": queue_uuid}
        done = await poll_queue(client, queue_uuid)
        cancelled = await reservation(client, made, "cancelled")
        await port_status(client, charger.port, "Available")
        again = await cancel(client, made)
        await until(lambda: "reservation.cancelled" in reservation_events(receiver))
    assert done["status"] == "SUCCESS" and done["command"] == "reserve_cancel", done
    reservation_id = reserve_now(sim).get("reservationId", reserve_now(sim).get("id"))
    assert sim.requests("CancelReservation") == [{"reservationId": reservation_id}]
    assert cancelled["ended"] is not None
    assert "has already ended (cancelled" in assert_error(again, 409)
    assert reservation_events(receiver) == ["reservation.reserved", "reservation.cancelled"]


async def test_tc052_the_whole_charger_is_reserved(server: Server, simulators: Simulators) -> None:
    """TC_052: a reservation of the charge point (1.6 connectorId 0; 2.0.1 no evseId) for a
    card and its group; a session another card of the group starts uses it (the charger
    learns the card's group from Authorize)."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger(connectors=2)
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        made = await reserve(
            client, charge_point_id=charger.charge_point_id, id_tag=MATE, parent_id_tag=GROUP
        )
        held = await reservation(client, made, "reserved")
        assert held["port_uuid"] is None
        assert await sim.present_card(1, CARD) == "Accepted"
        used = await reservation(client, made, "used")
    sent = reserve_now(sim)
    if simulators.ocpp_version == "1.6":
        assert (sent["connectorId"], sent["parentIdTag"]) == (0, GROUP)
    else:
        assert "evseId" not in sent
        assert sent["groupIdToken"] == {"idToken": GROUP, "type": "Central"}
    assert used["transaction_uuid"] is not None


async def test_a_reserved_port_refuses_another_card(server: Server, simulators: Simulators) -> None:
    """The charger decides who may charge on a reserved connector: a start for another idTag
    is rejected there, and the reservation holds."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    await online(simulators, server, charger)
    async with operator.client() as client:
        made = await reserve(client, port_uuid=charger.port)
        await reservation(client, made, "reserved")
        started = await start_session(client, charger.port)
        failed = await poll_queue(client, started["queue_uuid"])
        held = await reservation(client, made)
    assert failed["status"] == "FAILURE", failed
    assert held["state"] == "reserved"


@pytest.mark.server_env({"CHARGEGATE_POLL_INTERVAL_S": "0.5"})
async def test_a_reservation_expires(server: Server, simulators: Simulators) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    await online(simulators, server, charger)
    async with hooked(server, operator) as receiver, operator.client() as client:
        made = await reserve(client, port_uuid=charger.port, expires=iso(3))
        await reservation(client, made, "reserved")
        expired = await reservation(client, made, "expired")
        await until(lambda: "reservation.expired" in reservation_events(receiver))
        await port_status(client, charger.port, "Available")
    assert api_time(expired["ended"]) >= api_time(expired["expires"]) - timedelta(seconds=1)


async def test_an_offline_charger_fails_the_reservation_at_once(op: Operator) -> None:
    await with_cards(op)
    charger = await op.add_charger()
    async with op.client() as client:
        made = await reserve(client, port_uuid=charger.port)
        failed = (await client.get(f"/queue/{made['id']}")).json()
        gone = await reservation(client, made)
    assert failed["status"] == "FAILURE"
    assert failed["reason"].startswith(f"Charger {charger.charge_point_id} is offline")
    assert gone["state"] == "failed" and gone["reason"] == failed["reason"]


async def test_a_token_longer_than_a_16_id_tag(op: Operator, simulators: Simulators) -> None:
    """A 1.6 ReserveNow's idTag and parentIdTag are CiString20: a longer token (or parent) is
    refused by the API for a 1.6 charger, and nothing is sent; a 2.0.1 charger takes it
    (CiString36)."""
    long_group, long_card = "FLEET-" + "G" * 30, "CARD-" + "L" * 16
    async with op.client() as client:
        for card in (
            {"id_tag": long_group, "status": "Accepted"},
            {"id_tag": long_card, "status": "Accepted"},
            {"id_tag": CARD, "status": "Accepted", "parent_id_tag": long_group},
        ):
            assert (await client.post("/tokens", json=card)).status_code == 201
        charger = await op.add_charger()
        sim = await online(simulators, op.server, charger)
        tries = [(long_card, None), (CARD, long_group)]
        if simulators.ocpp_version == "1.6":
            for id_tag, parent in tries:
                body = {"port_uuid": charger.port, "id_tag": id_tag, "expires": iso(600)}
                if parent is not None:
                    body["parent_id_tag"] = parent
                field = "id_tag" if parent is None else "parent_id_tag"
                refused = assert_error(await client.post("/reservations", json=body), 400)
                assert f"{field} must be at most 20 characters" in refused, refused
            assert (await client.get("/reservations")).json() == []
            assert sim.count("ReserveNow") == 0
            return
        made = await reserve(client, port_uuid=charger.port, id_tag=long_card)
        assert (await poll_queue(client, made["id"]))["status"] == "SUCCESS"
        assert reserve_now(sim)["idToken"] == {"idToken": long_card, "type": "ISO14443"}


# -- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"expires": "2020-01-01T00:00:00Z"}, 400, "Expiry time must be in the future"),
        ({"expires": iso(2 * 86400)}, 400, "expires must be at most 24 hours ahead"),
        ({"port_uuid": "f1985d47-a946-4400-ba52-c00bb0c2cc0f"}, 404, "EVSE not found"),
        ({"charge_point_id": "CP-NOT-OURS"}, 404, "Charger not found"),
        ({"id_tag": "bad tag"}, 400, "id_tag must be 1 to 36 characters"),
        ({"id_tag": "CARD-NONE"}, 400, "is not in this operator's token registry"),
        ({"id_tag": "CARD-LOST"}, 400, "is Blocked: chargers would refuse it"),
        ({"id_tag": None}, 400, "Missing field(s): id_tag"),
        ({"charge_point_id": "X", "keep": True}, 400, "Unknown field(s): keep"),
    ],
)
async def test_bad_input_creates_nothing(
    op: Operator, body: dict[str, Any], status: int, message: str
) -> None:
    await with_cards(op)
    charger = await op.add_charger()
    sent = {"port_uuid": charger.port, "id_tag": CARD, "expires": iso(600), **body}
    if "charge_point_id" in body:
        del sent["port_uuid"]
    sent = {key: value for key, value in sent.items() if value is not None}
    async with op.client() as client:
        response = await client.post("/reservations", json=sent)
        assert message in assert_error(response, status)
        listed = await client.get("/reservations", params={"port_uuid": charger.port})
    assert listed.json() == []


async def test_port_or_charger_not_both(op: Operator) -> None:
    await with_cards(op)
    charger = await op.add_charger()
    body = {"id_tag": CARD, "expires": iso(600)}
    async with op.client() as client:
        both = {**body, "port_uuid": charger.port, "charge_point_id": charger.charge_point_id}
        for sent in (body, both):
            response = await client.post("/reservations", json=sent)
            assert "Send either port_uuid" in assert_error(response, 400)


async def test_a_reserved_port_takes_no_second_reservation(op: Operator) -> None:
    await with_cards(op)
    charger = await op.add_charger()
    async with op.client() as client:
        first = await reserve(client, port_uuid=charger.port, stg=True)
        second = await client.post(
            "/reservations",
            json={"port_uuid": charger.port, "id_tag": CARD, "expires": iso(60), "stg": True},
        )
    assert first["reservation_uuid"] in assert_error(second, 409)


async def test_a_retry_with_its_idempotency_key_reserves_once(
    server: Server, simulators: Simulators
) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger)
    key = {"Idempotency-Key": "reserve-once"}
    body = {"port_uuid": charger.port, "id_tag": CARD, "expires": iso(600)}
    async with operator.client() as client:
        first = await client.post("/reservations", json=body, headers=key)
        again = await client.post("/reservations", json=body, headers=key)
        await poll_queue(client, first.json()["id"])
        listed = (await client.get("/reservations")).json()
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert [r["reservation_uuid"] for r in listed] == [first.json()["reservation_uuid"]]
    assert len(sim.requests("ReserveNow")) == 1


async def test_staging_reservations_listed_and_filtered(op: Operator) -> None:
    """Sandbox reservations: no charger contacted, stg_input decides; the list pages by
    cursor, newest first, and filters by port and state; the real list does not show them."""
    await with_cards(op)
    charger = await op.add_charger(connectors=2)
    async with op.client() as client:
        made = [
            await reserve(client, port_uuid=port, stg=True, expires=iso(600))
            for port in charger.port_uuids
        ]
        made.append(await reserve(client, charge_point_id=charger.charge_point_id, stg=True))
        stg = {"stg": "true"}
        await poll_queue(client, made[0]["id"], params={**stg, "stg_input": "Success"})
        await poll_queue(client, made[1]["id"], params={**stg, "stg_input": "Failure"})
        page = await client.get("/reservations", params={**stg, "limit": 2})
        rest = await client.get(
            "/reservations", params={**stg, "limit": 2, "cursor": page.headers["X-Next-Cursor"]}
        )
        reserved = await client.get("/reservations", params={**stg, "state": "reserved"})
        on_port = await client.get("/reservations", params={**stg, "port_uuid": charger.port})
        real = await client.get("/reservations")
        cancelled = await cancel(client, made[0])
        assert cancelled.status_code == 404  # not without stg
        patched = await client.patch(
            f"/reservations/{made[0]['reservation_uuid']}",
            json={"state": "cancelled", "stg": True},
        )
        await poll_queue(client, patched.json()["id"], params={**stg, "stg_input": "Success"})
        gone = (await client.get(f"/reservations/{made[0]['reservation_uuid']}", params=stg)).json()
        pending = await client.patch(
            f"/reservations/{made[2]['reservation_uuid']}",
            json={"state": "cancelled", "stg": True},
        )
    uuids = [m["reservation_uuid"] for m in made]
    listed = [r["reservation_uuid"] for r in page.json() + rest.json()]
    assert listed == uuids[::-1]
    assert "X-Next-Cursor" not in rest.headers
    assert [r["reservation_uuid"] for r in reserved.json()] == [uuids[0]]
    assert [r["reservation_uuid"] for r in on_port.json()] == [uuids[0]]
    assert real.json() == []
    assert gone["state"] == "cancelled"
    assert "still being sent to the charger" in assert_error(pending, 409)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "held"}, "state must be one of pending, reserved"),
        ({"cursor": "!!"}, "cursor is not one this server gave out"),
        ({"port_uuid": "nope"}, "port_uuid 'nope' is not a valid UUID"),
    ],
)
async def test_bad_list_arguments(op: Operator, params: dict[str, str], message: str) -> None:
    async with op.client() as client:
        response = await client.get("/reservations", params=params)
    assert message in assert_error(response, 400)


async def test_a_cancellation_is_only_a_cancellation(op: Operator) -> None:
    await with_cards(op)
    charger = await op.add_charger()
    async with op.client() as client:
        made = await reserve(client, port_uuid=charger.port, stg=True)
        path = f"/reservations/{made['reservation_uuid']}"
        for body in ({"state": "reserved", "stg": True}, {"stg": True}, {"expires": iso(60)}):
            assert_error(await client.patch(path, json=body), 400)


# -- a node that dies ---------------------------------------------------------------------------


@pytest.mark.server_env({**RESTART_ENV, "CHARGEGATE_POLL_INTERVAL_S": "0.5"})
async def test_a_reservation_survives_kill_9(server: Server, simulators: Simulators) -> None:
    """The reservation and its ReserveNow are committed together: killed right after the
    answer, the restarted server still sends it; killed while reserved, it still expires."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger(connectors=2)
    first_port, second_port = charger.port_uuids
    sim = await online(simulators, server, charger)
    async with operator.client() as client:
        made = await reserve(client, port_uuid=first_port)
        server.kill()
        await sim.wait_until(lambda: not sim.online)
        server.start()
        await sim.wait_until(lambda: sim.online, timeout=30)
        await reservation(client, made, "reserved", timeout=60)
        # Another one, due soon: reserved, then the server is killed before it is due (its
        # ReserveNow is answered well within those seconds) and must expire it once restarted.
        brief = await reserve(client, port_uuid=second_port, expires=iso(8))
        await reservation(client, brief, "reserved")
        server.kill()
        await sim.wait_until(lambda: not sim.online)
        server.start()
        # A restart on a loaded machine takes a while: the expiry counts, not how long.
        expired = await reservation(client, brief, "expired", timeout=120)
        assert (await reservation(client, made))["state"] == "reserved"
    assert expired["ended"] is not None
    sent = {p.get("reservationId", p.get("id")) for p in sim.requests("ReserveNow")}
    assert len(sent) == 2, sent


# -- the strict-schema charger ------------------------------------------------------------------


@DIALECTS
async def test_reservation_used_with_a_strict_charger(server: Server, dialect: Dialect) -> None:
    """ocpp-rpc validates our ReserveNow and our answers to the start naming it."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    node = NodeCharger(server, charger, dialect, "--use-reservation")
    async with running(node), operator.client() as client:
        await node.wait_for(lambda event: event["event"] == "ready")
        made = await reserve(client, port_uuid=charger.port)
        assert (await poll_queue(client, made["id"]))["status"] == "SUCCESS"
        used = await reservation(client, made, "used")
        started = await node.wait_for(lambda event: event["event"] == "transactionStarted")
        assert started["status"] == "Accepted"
        assert node.failures() == [], node.transcript()
    assert used["transaction_uuid"] is not None


@DIALECTS
@pytest.mark.parametrize("refusal", ["Faulted", "Occupied", "Unavailable", "Rejected"])
async def test_refusals_with_a_strict_charger(
    server: Server, dialect: Dialect, refusal: str
) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    node = NodeCharger(server, charger, dialect, f"--reserve={refusal}")
    async with running(node), operator.client() as client:
        await node.wait_for(lambda event: event["event"] == "ready")
        made = await reserve(client, port_uuid=charger.port)
        failed = await poll_queue(client, made["id"])
        gone = await reservation(client, made, "failed")
        assert node.failures() == [], node.transcript()
    assert failed["reason"] == f"The charger refused the reservation (ReserveNow: {refusal})"
    assert gone["reason"] == failed["reason"]


@DIALECTS
async def test_cancel_and_the_whole_charger_with_a_strict_charger(
    server: Server, dialect: Dialect
) -> None:
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    node = NodeCharger(server, charger, dialect)
    async with running(node), operator.client() as client:
        await node.wait_for(lambda event: event["event"] == "ready")
        made = await reserve(client, charge_point_id=charger.charge_point_id, parent_id_tag=GROUP)
        await reservation(client, made, "reserved")
        response = await cancel(client, made)
        assert (await poll_queue(client, response.json()["id"]))["status"] == "SUCCESS"
        await reservation(client, made, "cancelled")
        assert node.failures() == [], node.transcript()
    [call] = [e for e in node.of("call", "ReserveNow")]
    assert call["params"].get("connectorId", 0) == 0 and "evseId" not in call["params"]


@pytest.mark.parametrize(("update", "state"), [("Expired", "expired"), ("Removed", "cancelled")])
async def test_a_station_reports_its_reservation_ended(
    server: Server, update: str, state: str
) -> None:
    """2.0.1 ReservationStatusUpdate is recorded, and answered as the schema says."""
    operator = await server.operator()
    await with_cards(operator)
    charger = await operator.add_charger()
    node = NodeCharger(server, charger, V201, f"--report-reservation={update}")
    async with running(node), operator.client() as client:
        await node.wait_for(lambda event: event["event"] == "ready")
        made = await reserve(client, port_uuid=charger.port)
        ended = await reservation(client, made, state)
        await node.wait_for(
            lambda event: (
                event["event"] == "result" and event["action"] == "ReservationStatusUpdate"
            )
        )
        assert node.failures() == [], node.transcript()
    if update == "Removed":
        assert ended["reason"] == "Removed at the charger (ReservationStatusUpdate: Removed)"


def test_reservation_actions_and_states() -> None:
    """Reservation commands share the outbox's action column (16 characters) with the other
    kinds: no value may mean two things, and each reads back as itself."""
    others = {a.value for a in (*TransactionAction, *ChargerAction)}
    for action in ReservationAction:
        assert action.value not in others and len(action.value) <= 16
        assert command_action(action.value) is action
    assert [s for s in ReservationState if not s.ended] == [
        ReservationState.PENDING,
        ReservationState.RESERVED,
    ]
    assert RowMark.decode(RowMark(42).encode()) == RowMark(42)
