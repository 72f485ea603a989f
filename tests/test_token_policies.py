"""Token policies (/1.2/settings, /1.2/chargers/<id>/settings), as chargers meet them:

- OCA OCPP 1.6 TC_023_1/2/3 (CSMS side): a card presented at the charger is answered Invalid,
  Expired or Blocked, and the charger starts nothing;
- ConcurrentTx: a card (concurrent_tx = token) or its group (group) already in a live session is
  told ConcurrentTx at a start, never at Authorize (1.6 keeps it to StartTransaction, and the
  card that ends a session is asked about too), nor in the session's own later messages;
- a card blocked while charging is told Blocked by the next message carrying it, and with
  blocked_sessions = stop its sessions are stopped at once; clear_cache_on_block sends ClearCache;
- a charger's own answer to unknown tokens overrides its operator's.

Each with our simulator, hand-driven sockets, and the strict-schema charger (tests/js), in both
OCPP versions."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from chargegate.sim.charger import SimulatedCharger
from support import (
    Charger,
    Operator,
    Server,
    Simulators,
    assert_error,
    id_tag_status,
    iso,
    online,
    raw_charger,
    start_report,
)
from test_charger_text import query
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_token_authorization import info, presented

CARDS: list[dict[str, Any]] = [
    {"id_tag": "FLEET-1", "status": "Accepted", "type": "Central"},
    {"id_tag": "CARD-A", "status": "Accepted", "parent_id_tag": "FLEET-1"},
    {"id_tag": "CARD-B", "status": "Accepted", "parent_id_tag": "FLEET-1"},
    {"id_tag": "CARD-C", "status": "Accepted"},
    {"id_tag": "CARD-OLD", "status": "Expired"},
    {"id_tag": "CARD-LOST", "status": "Blocked"},
]
DEFAULTS = {
    "unknown_tokens": "reject",
    "concurrent_tx": "token",
    "blocked_sessions": "continue",
    "clear_cache_on_block": True,
}


async def with_cards(op: Operator) -> Operator:
    async with op.client() as client:
        for card in CARDS:
            assert (await client.post("/tokens", json=card)).status_code == 201, card
    return op


async def configure(op: Operator, **settings: Any) -> dict[str, Any]:
    async with op.client() as client:
        answer = await client.patch("/settings", json=settings)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def set_card(op: Operator, id_tag: str, status: str) -> None:
    async with op.client() as client:
        answer = await client.patch(f"/tokens/{id_tag}", json={"status": status})
    assert answer.status_code == 200, answer.text


def answers(sim: SimulatedCharger, action: str) -> list[dict[str, Any]]:
    """The server's answers to the CALLs of `action` the simulated charger sent, in order."""
    return [answer for sent, _, answer in sim.answered if sent == action]


def starts(sim: SimulatedCharger) -> list[dict[str, Any]]:
    """The answers to the charger's transaction starts (2.0.1: Started events)."""
    if sim.dialect.subprotocol == "ocpp1.6":
        return answers(sim, "StartTransaction")
    return [
        answer
        for sent, call, answer in sim.answered
        if sent == "TransactionEvent" and call["eventType"] == "Started"
    ]


def stops(sim: SimulatedCharger) -> list[dict[str, Any]]:
    """The answers to the charger's transaction ends (2.0.1: Ended events)."""
    return [answer for _, answer in ends(sim)]


def ends(sim: SimulatedCharger) -> list[tuple[int | str, dict[str, Any]]]:
    """(transactionId, the answer) of each transaction end the charger reported."""
    if sim.dialect.subprotocol == "ocpp1.6":
        return [
            (call["transactionId"], answer)
            for sent, call, answer in sim.answered
            if sent == "StopTransaction"
        ]
    return [
        (call["transactionInfo"]["transactionId"], answer)
        for sent, call, answer in sim.answered
        if sent == "TransactionEvent" and call["eventType"] == "Ended"
    ]


async def end_answer(sim: SimulatedCharger, connector_id: int) -> dict[str, Any]:
    """The card ends the session on this connector: the answer to its end."""
    transaction_id = sim.connectors[connector_id].transaction_id
    assert transaction_id is not None
    await sim.end_transaction(connector_id)
    [answer] = [answer for ended, answer in ends(sim) if ended == transaction_id]
    return answer


async def charging(sim: SimulatedCharger, connector_id: int) -> None:
    connector = sim.connectors[connector_id]
    await sim.wait_until(lambda: connector.status == "Charging")


# --- the API ----------------------------------------------------------------------------------


async def test_settings_default_change_and_refuse_bad_input(op: Operator) -> None:
    charger = await op.add_charger()
    async with op.client() as client:
        assert (await client.get("/settings")).json() == DEFAULTS
        assert (await client.get("/settings", params={"stg": "true"})).json() == DEFAULTS
        changed = {
            "unknown_tokens": "accept",
            "concurrent_tx": "group",
            "blocked_sessions": "stop",
            "clear_cache_on_block": False,
        }
        answer = await client.patch("/settings", json=changed)
        assert answer.status_code == 200 and answer.json() == changed
        assert (await client.get("/settings")).json() == changed
        # Only the fields sent change.
        answer = await client.patch("/settings", json={"concurrent_tx": "off"})
        assert answer.json() == {**changed, "concurrent_tx": "off"}

        for bad in (
            {},
            {"stg": False},
            {"unknown_tokens": "maybe"},
            {"unknown_tokens": None},
            {"concurrent_tx": "Token"},
            {"blocked_sessions": 1},
            {"clear_cache_on_block": "yes"},
            {"clear_cache_on_block": None},
            {"free_vend": True},
            {"concurrent_tx": "off", "stg": True},
        ):
            assert_error(await client.patch("/settings", json=bad), 400)
        assert_error(await client.get("/settings", params={"verbose": "1"}), 400)
        assert (await client.get("/settings")).json() == {**changed, "concurrent_tx": "off"}

        path = f"/chargers/{charger.charge_point_id}/settings"
        own = {
            "charge_point_id": charger.charge_point_id,
            "unknown_tokens": None,
            "applied_unknown_tokens": "accept",
        }
        assert (await client.get(path)).json() == own
        answer = await client.patch(path, json={"unknown_tokens": "reject"})
        assert answer.status_code == 200
        assert answer.json() == {
            **own,
            "unknown_tokens": "reject",
            "applied_unknown_tokens": "reject",
        }
        answer = await client.patch(path, json={"unknown_tokens": None})
        assert answer.json() == own
        for bad in (
            {},
            {"unknown_tokens": "yes"},
            {"policy": "accept"},
            {"stg": True, "unknown_tokens": None},
        ):
            assert_error(await client.patch(path, json=bad), 400)
        absent = "/chargers/CP-NOT-THERE/settings"
        for missing in (
            await client.get(absent),
            await client.patch(absent, json={"unknown_tokens": None}),
        ):
            assert "CP-NOT-THERE" in assert_error(missing, 404)


# --- OCA TC_023 (CSMS side) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "card", "status"),
    [
        ("TC_023_1", "CARD-NOT-ISSUED", "Invalid"),
        ("TC_023_2", "CARD-OLD", "Expired"),
        ("TC_023_3", "CARD-LOST", "Blocked"),
    ],
)
@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_tc_023_authorize_refused(
    op: Operator, subprotocol: str, case: str, card: str, status: str
) -> None:
    """The tool presents the card (Authorize.req); idTagInfo.status is the card's, and nothing
    else is said (2.0.1: idTokenInfo, TC_C_02 alike)."""
    await with_cards(op)
    async with raw_charger(op, subprotocol) as (raw, _):
        answer = await raw.call("Authorize", presented(subprotocol, card))
        key = "idTagInfo" if subprotocol == "ocpp1.6" else "idTokenInfo"
        assert answer == {key: {"status": status}}, case


async def test_tc_023_with_the_simulator(op: Operator, simulators: Simulators) -> None:
    """A charger that asks before it starts starts nothing for a refused card, and charges for an
    accepted one."""
    await with_cards(op)
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger)
    for card, status in (
        ("CARD-NOT-ISSUED", "Invalid"),
        ("CARD-OLD", "Expired"),
        ("CARD-LOST", "Blocked"),
    ):
        assert await sim.present_card(1, card) == status
    assert starts(sim) == []
    assert await sim.present_card(1, "CARD-C") == "Accepted"
    await charging(sim, 1)
    assert [id_tag_status(answer) for answer in starts(sim)] == ["Accepted"]


# --- ConcurrentTx -----------------------------------------------------------------------------


async def test_concurrent_tx_with_the_simulator(op: Operator, simulators: Simulators) -> None:
    await with_cards(op)
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger)
    assert await sim.present_card(1, "CARD-A") == "Accepted"
    await charging(sim, 1)

    # The same card on the other connector: Accepted at Authorize (which also ends sessions),
    # ConcurrentTx at the start, which the charger ends at once.
    assert await sim.present_card(2, "CARD-A") == "Accepted"
    assert id_tag_status(starts(sim)[-1]) == "ConcurrentTx"
    await sim.wait_until(lambda: sim.connectors[2].status == "Available")
    # Another card of the same group is free under `token` ...
    assert await sim.present_card(2, "CARD-B") == "Accepted"
    await charging(sim, 2)
    await sim.end_transaction(2)
    # ... and not under `group`; nothing is under `off`.
    await configure(op, concurrent_tx="group")
    assert await sim.present_card(2, "CARD-B") == "Accepted"
    assert id_tag_status(starts(sim)[-1]) == "ConcurrentTx"
    await sim.wait_until(lambda: sim.connectors[2].status == "Available")
    assert await sim.present_card(2, "CARD-C") == "Accepted"
    await charging(sim, 2)
    await sim.end_transaction(2)
    await configure(op, concurrent_tx="off")
    assert await sim.present_card(2, "CARD-A") == "Accepted"
    await charging(sim, 2)

    # The first session's own end is answered for the card, never ConcurrentTx.
    await configure(op, concurrent_tx="token")
    assert id_tag_status(await end_answer(sim, 1)) == "Accepted", sim.answered[-4:]


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_session_is_never_concurrent_with_itself(op: Operator, subprotocol: str) -> None:
    """Retries of its start, its 2.0.1 Updated events and its stop all say Accepted, even once a
    later session of the same card runs; that later one is ConcurrentTx."""
    await with_cards(op)
    async with raw_charger(op, subprotocol, connectors=2) as (raw, _):
        action, first = start_report(subprotocol, 1, "CARD-A", iso(-60))
        started = await raw.call(action, first)
        assert id_tag_status(started) == "Accepted"
        assert id_tag_status(await raw.call(action, first)) == "Accepted"  # a retry
        # Authorize is asked for the card that ends a session too: never ConcurrentTx.
        assert info(await raw.call("Authorize", presented(subprotocol, "CARD-A"))) == info(started)
        action, second = start_report(subprotocol, 2, "card-a", iso(-30))
        later = await raw.call(action, second)
        assert id_tag_status(later) == "ConcurrentTx"
        if subprotocol == "ocpp2.0.1":
            assert id_tag_status(await raw.call(action, updated(first, 1))) == "Accepted"
            assert id_tag_status(await raw.call(action, updated(second, 1))) == "ConcurrentTx"
        assert id_tag_status(await raw.call(*ended(subprotocol, first, started, 2))) == "Accepted"

        # Blocked while the second one runs: its next message carrying the card says so.
        await set_card(op, "CARD-A", "Blocked")
        if subprotocol == "ocpp2.0.1":
            assert id_tag_status(await raw.call(action, updated(second, 2))) == "Blocked"
        assert id_tag_status(await raw.call(*ended(subprotocol, second, later, 3))) == "Blocked"


def updated(start: dict[str, Any], seq_no: int) -> dict[str, Any]:
    """A 2.0.1 Updated event of the transaction `start` began, carrying its idToken again."""
    return {
        "eventType": "Updated",
        "timestamp": iso(0),
        "triggerReason": "Authorized",
        "seqNo": seq_no,
        "transactionInfo": start["transactionInfo"],
        "idToken": start["idToken"],
    }


def ended(
    subprotocol: str, start: dict[str, Any], answer: dict[str, Any], seq_no: int
) -> tuple[str, dict[str, Any]]:
    """The end of the transaction `start` began (`answer`: the server's answer to it), the card
    presented to end it."""
    if subprotocol == "ocpp1.6":
        return "StopTransaction", {
            "transactionId": answer["transactionId"],
            "idTag": start["idTag"],
            "meterStop": 10,
            "timestamp": iso(0),
            "reason": "Local",
        }
    return "TransactionEvent", {
        **updated(start, seq_no),
        "eventType": "Ended",
        "triggerReason": "StopAuthorized",
    }


# --- a card blocked while charging ------------------------------------------------------------


async def test_blocking_a_card_stops_its_sessions(op: Operator, simulators: Simulators) -> None:
    """blocked_sessions = stop: the charger is told to stop the card's session at once, and its
    end is answered Blocked; every online charger of the operator is told to clear its cache,
    another operator's is not."""
    await with_cards(op)
    await configure(op, blocked_sessions="stop")
    other = await with_cards(await op.server.operator())
    first = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, first)
    idle = await online(simulators, op.server, await op.add_charger())
    theirs = await online(simulators, op.server, await other.add_charger())
    assert await sim.present_card(1, "CARD-A") == "Accepted"
    assert await sim.present_card(2, "CARD-C") == "Accepted"
    await charging(sim, 1)
    await charging(sim, 2)

    await set_card(op, "CARD-A", "Blocked")
    # Stopped, and its end answered.
    await sim.wait_until(lambda: sim.connectors[1].status == "Available")
    [stop] = sim.requests(sim.dialect.stop_request)
    [card_a_end] = stops(sim)
    assert sim.connectors[2].status == "Charging"  # another card's session runs on
    for charger in (sim, idle):
        await charger.wait_until(lambda c=charger: c.count("ClearCache") == 1)
    if sim.dialect.subprotocol == "ocpp1.6":
        assert stop["transactionId"] == starts(sim)[0]["transactionId"]
        # A remote stop's StopTransaction still carries the card: its answer says Blocked.
        assert id_tag_status(card_a_end) == "Blocked"
    # The other operator's charger is told nothing of it; its own operator's blocks reach it.
    await set_card(other, "CARD-A", "Blocked")
    await theirs.wait_until(lambda: theirs.count("ClearCache") == 1)
    assert sim.count("ClearCache") == idle.count("ClearCache") == 1


async def test_an_import_that_blocks_cards_acts_as_blocking_them_one_by_one(
    op: Operator, simulators: Simulators
) -> None:
    """An import (POST /1.2/tokens:import) that blocks two cards in use stops both sessions, as
    PATCHing each would, and clears the charger's cache once for the whole import."""
    await with_cards(op)
    await configure(op, blocked_sessions="stop")
    sim = await online(simulators, op.server, await op.add_charger(connectors=2))
    assert await sim.present_card(1, "CARD-A") == "Accepted"
    assert await sim.present_card(2, "CARD-C") == "Accepted"
    await charging(sim, 1)
    await charging(sim, 2)

    rows = [{"id_tag": tag, "status": "Blocked"} for tag in ("CARD-A", "CARD-C", "CARD-B")]
    async with op.client() as client:
        answer = await client.post("/tokens:import", json={"tokens": rows})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": 0, "updated": 3, "unchanged": 0}
    await sim.wait_until(
        lambda: sim.connectors[1].status == sim.connectors[2].status == "Available"
    )
    assert len(sim.requests(sim.dialect.stop_request)) == 2
    await sim.wait_until(lambda: sim.count("ClearCache") >= 1)
    assert sim.count("ClearCache") == 1


async def clear_caches(op: Operator, charger: Charger) -> list[str]:
    """The statuses of the ClearCache commands in the charger's outbox, oldest first."""
    rows = await query(
        op.server,
        "SELECT commands.status FROM commands JOIN chargers ON commands.charger_id = chargers.id "
        "WHERE chargers.charge_point_id = :cp AND commands.action = 'clear_cache' "
        "ORDER BY commands.id",
        cp=charger.charge_point_id,
    )
    return [row.status for row in rows]


async def test_blocks_in_a_row_queue_one_clear_cache(op: Operator) -> None:
    """Cards blocked one after another while the charger's ClearCache is still to be sent add
    no second one (that one, sent after them, clears their entries too); once it has gone out,
    the next block queues another."""
    await with_cards(op)
    charger = await op.add_charger()
    # Connected to a node that is not running: nothing claims its commands, which stay queued.
    await query(
        op.server,
        "UPDATE chargers SET connected_node = 'elsewhere' WHERE charge_point_id = :cp",
        cp=charger.charge_point_id,
    )
    await set_card(op, "CARD-A", "Blocked")
    await set_card(op, "CARD-B", "Expired")
    async with op.client() as client:
        assert (await client.delete("/tokens/CARD-C")).status_code == 204
    assert await clear_caches(op, charger) == ["pending"]
    # Claimed by its node: it may be on its way already, so the next block needs its own.
    await query(
        op.server,
        "UPDATE commands SET status = 'sending' WHERE action = 'clear_cache' AND charger_id = "
        "(SELECT id FROM chargers WHERE charge_point_id = :cp)",
        cp=charger.charge_point_id,
    )
    await set_card(op, "FLEET-1", "Blocked")
    assert await clear_caches(op, charger) == ["sending", "pending"]


async def test_blocked_sessions_continue_by_default(op: Operator, simulators: Simulators) -> None:
    """blocked_sessions = continue: the session runs on until the card is presented to end it,
    which is answered Blocked. clear_cache_on_block = false sends no ClearCache; true sends one
    for a card set Expired and for one deleted."""
    await with_cards(op)
    await configure(op, clear_cache_on_block=False)
    sim = await online(simulators, op.server, await op.add_charger())
    assert await sim.present_card(1, "CARD-A") == "Accepted"
    await charging(sim, 1)
    await set_card(op, "CARD-A", "Blocked")
    await configure(op, clear_cache_on_block=True)
    await set_card(op, "CARD-B", "Expired")
    # The first ClearCache to arrive is the Expired card's: the block before it sent none, and
    # asked for no stop.
    await sim.wait_until(lambda: sim.count("ClearCache") == 1)
    assert sim.count(sim.dialect.stop_request) == 0
    assert sim.connectors[1].status == "Charging"
    assert id_tag_status(await end_answer(sim, 1)) == "Blocked", sim.answered[-4:]
    async with op.client() as client:
        assert (await client.delete("/tokens/CARD-C")).status_code == 204
    await sim.wait_until(lambda: sim.count("ClearCache") == 2)
    # A sandbox card is nothing to a charger: blocking, expiring or deleting one, alone or in
    # an import, clears no cache and sends no list.
    async with op.client() as client:
        staged = {"id_tag": "CARD-S", "status": "Accepted", "stg": True}
        assert (await client.post("/tokens", json=staged)).status_code == 201
        blocked = {"status": "Blocked", "stg": True}
        assert (await client.patch("/tokens/CARD-S", json=blocked)).status_code == 200
        rows = [
            {"id_tag": "CARD-S", "status": "Expired"},
            {"id_tag": "CARD-T", "status": "Accepted"},
        ]
        imported = await client.post("/tokens:import", json={"tokens": rows, "stg": True})
        assert imported.json() == {"created": 1, "updated": 1, "unchanged": 0}
        deleted = await client.delete("/tokens/CARD-T", params={"stg": "true"})
        assert deleted.status_code == 204
    await set_card(op, "CARD-LOST", "Expired")
    await sim.wait_until(lambda: sim.count("ClearCache") == 3)
    assert sim.count("ClearCache") == 3 and sim.count("SendLocalList") == 0


# --- a charger's own answer to unknown tokens -------------------------------------------------


async def test_a_charger_overrides_its_operators_unknown_tokens(
    op: Operator, simulators: Simulators
) -> None:
    await with_cards(op)
    one = await op.add_charger()
    sim = await online(simulators, op.server, one)
    rest = await online(simulators, op.server, await op.add_charger())
    path = f"/chargers/{one.charge_point_id}/settings"
    async with op.client() as client:
        answer = await client.patch(path, json={"unknown_tokens": "accept"})
        assert answer.json()["applied_unknown_tokens"] == "accept"
    assert await sim.present_card(1, "CARD-FREE") == "Accepted"
    assert await rest.present_card(1, "CARD-FREE") == "Invalid"
    # The registry keeps the last word on the cards it holds.
    assert await sim.present_card(1, "CARD-LOST") == "Blocked"
    await configure(op, unknown_tokens="accept")
    async with op.client() as client:
        assert (await client.patch(path, json={"unknown_tokens": "reject"})).status_code == 200
    assert await sim.present_card(1, "CARD-OTHER") == "Invalid"
    assert await rest.present_card(1, "CARD-OTHER") == "Accepted"
    async with op.client() as client:
        answer = await client.patch(path, json={"unknown_tokens": None})
        assert answer.json()["applied_unknown_tokens"] == "accept"
    assert await sim.present_card(1, "CARD-THIRD") == "Accepted"


# --- the strict-schema charger ----------------------------------------------------------------


@pytest.mark.parametrize("dialect", [V16, V201], ids=["1.6", "2.0.1"])
async def test_policies_with_an_independent_strict_charger(op: Operator, dialect: Dialect) -> None:
    """ocpp-rpc checks every answer against its own copy of the OCPP schemas: ConcurrentTx at
    the start of the second session of a card (Accepted at its Authorize), which the charger
    ends; the charger's own free vend; then the card is blocked (blocked_sessions = stop):
    ClearCache and a stop reach the charger, and (1.6) the stop's idTagInfo says Blocked."""
    await with_cards(op)
    await configure(op, blocked_sessions="stop")
    charger = await op.add_charger(connectors=2)
    async with op.client() as client:
        path = f"/chargers/{charger.charge_point_id}/settings"
        assert (await client.patch(path, json={"unknown_tokens": "accept"})).status_code == 200
    node = NodeCharger(
        op.server,
        charger,
        dialect,
        "--cards=CARD-FREE,CARD-LOST",
        "--start-card=CARD-A",
        "--second-card=card-a",
    )
    async with running(node):
        await node.wait_for(lambda event: event["event"] == "cardsPresented")
        presented_cards = [
            (dialect.token_of(event["params"]), info(event["result"])["status"])
            for event in node.of("result", "Authorize")[1:]
        ]
        assert presented_cards == [
            ("CARD-FREE", "Accepted"),
            ("CARD-LOST", "Blocked"),
            ("CARD-A", "Accepted"),
            ("card-a", "Accepted"),
        ]
        first, second = node.of("transactionStarted")
        assert (first["connectorId"], first["status"]) == (1, "Accepted")
        assert (second["connectorId"], second["status"]) == (2, "ConcurrentTx")
        [deauthorized] = node.of("transactionStopped")
        assert (deauthorized["connectorId"], deauthorized["reason"]) == (2, "DeAuthorized")

        await set_card(op, "CARD-A", "Blocked")
        await node.wait_for(
            lambda event: event["event"] == "call" and event["action"] == "ClearCache"
        )
        stopped = await node.wait_for(
            lambda event: event["event"] == "transactionStopped" and event["connectorId"] == 1
        )
        assert stopped["reason"] == "Remote"
        if dialect is V16:
            ended = node.of("result", "StopTransaction")[-1]
            assert ended["params"]["transactionId"] == first["transactionId"]
            assert ended["result"]["idTagInfo"]["status"] == "Blocked"
        assert node.failures() == [], node.transcript()


def charger_unknown_tokens(server: Server, charge_point_id: str, policy: str) -> str:
    """`chargegate chargers unknown-tokens`, through the real command line; its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "chargegate", "chargers", "unknown-tokens", charge_point_id, policy],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == (1 if "NOBODY" in charge_point_id else 0), done.stderr
    return done.stderr


async def test_the_charger_policy_from_the_command_line(op: Operator) -> None:
    async with raw_charger(op, "ocpp1.6") as (raw, charger):
        cp_id = charger.charge_point_id
        await asyncio.to_thread(charger_unknown_tokens, op.server, cp_id, "accept")
        answer = await raw.call("Authorize", {"idTag": "CARD-FREE"})
        assert answer == {"idTagInfo": {"status": "Accepted"}}
        async with op.client() as client:
            shown = (await client.get(f"/chargers/{cp_id}/settings")).json()
            assert shown["unknown_tokens"] == "accept"
        await asyncio.to_thread(charger_unknown_tokens, op.server, cp_id, "operator")
        answer = await raw.call("Authorize", {"idTag": "CARD-FREE"})
        assert answer == {"idTagInfo": {"status": "Invalid"}}
    error = await asyncio.to_thread(charger_unknown_tokens, op.server, "CP-NOBODY", "accept")
    assert "not registered" in error
