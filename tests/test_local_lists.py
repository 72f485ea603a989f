"""Chargers' local authorization lists follow their operator's production tokens, in both OCPP
versions: a full list at the first sync, differentials after token changes, split and cut to
what the charger takes, a full resend after Failed or VersionMismatch, nothing more to a charger
without a list; the sync state in GET /1.2/chargers/<id>/local-list, a full resend on POST.
OCTT (OCPP 1.6, CSMS side): TC_042_1, TC_042_2, TC_043_1, TC_043_3, TC_043_4, TC_043_5. Then the
same with the strict-schema charger we did not write (tests/js)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chargegate import provisioning
from chargegate.sim.charger import LocalList, SimulatedCharger
from support import Operator, Server, Simulators, assert_error, eventually, online, poll_queue
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_webhooks import Receiver, until

pytestmark = pytest.mark.server_env({"CHARGEGATE_COMMAND_TIMEOUT_S": "8"})

CARDS: list[dict[str, Any]] = [
    {"id_tag": "CARD-A", "status": "Accepted", "expires": "2031-01-31T20:40:00Z"},
    {"id_tag": "CARD-B", "status": "Blocked"},
    {"id_tag": "CARD-C", "status": "Accepted", "parent_id_tag": "CARD-A"},
]


async def with_cards(server: Server) -> Operator:
    """An operator with CARDS, and a sandbox card (never on a charger's list)."""
    op = await server.operator()
    async with op.client() as client:
        for card in [*CARDS, {"id_tag": "CARD-STG", "status": "Accepted", "stg": True}]:
            assert (await client.post("/tokens", json=card)).status_code == 201
    return op


def sends(sim: SimulatedCharger) -> list[dict[str, Any]]:
    return sim.requests("SendLocalList")


def version_of(message: dict[str, Any]) -> int:
    return int(message["listVersion" if "listVersion" in message else "versionNumber"])


def tags(message: dict[str, Any]) -> list[str]:
    return [
        item["idTag"] if "idTag" in item else item["idToken"]["idToken"]
        for item in message.get("localAuthorizationList", [])
    ]


def info(item: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = item.get("idTagInfo", item.get("idTokenInfo"))
    return found


async def local_list(client: httpx.AsyncClient, charge_point_id: str) -> dict[str, Any]:
    response = await client.get(f"/chargers/{charge_point_id}/local-list")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(client: httpx.AsyncClient, charge_point_id: str, state: str) -> dict[str, Any]:
    """The list's state once it is `state` and no sync is waiting (version as reported)."""
    found: dict[str, Any] = {}

    async def there() -> bool:
        found.update(await local_list(client, charge_point_id))
        return found["state"] == state and (
            state != "in_sync" or found["version"] == found["charger_version"]
        )

    await eventually(there)
    return found


async def test_a_list_follows_the_tokens(server: Server, simulators: Simulators) -> None:
    """TC_042_2 (the version is asked), TC_043_4 (a full list, every entry with its status),
    TC_043_5 (a differential with only the changed token, a version above the last)."""
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    sim = await online(simulators, server, charger, local_list=LocalList(capacity=10))
    held = sim.local_list
    assert held is not None
    async with op.client() as client:
        state = await settled(client, cp, "in_sync")
        assert state == {
            "supported": True,
            "version": 1,
            "charger_version": 1,
            "state": "in_sync",
            "entries": 3,
            "last_synced": state["last_synced"],
            "last_error": None,
        }
        assert sim.count("GetLocalListVersion") >= 1
        [full] = sends(sim)
        assert full["updateType"] == "Full" and version_of(full) == 1
        assert sorted(tags(full)) == ["CARD-A", "CARD-B", "CARD-C"]
        assert all(info(item) is not None for item in full["localAuthorizationList"])
        assert held.status_of("card-a") == "Accepted" and held.status_of("CARD-B") == "Blocked"
        first = dict(zip(tags(full), full["localAuthorizationList"], strict=True))
        if sim.dialect.subprotocol == "ocpp1.6":
            assert first["CARD-C"]["idTagInfo"] == {"status": "Accepted", "parentIdTag": "CARD-A"}
        else:
            assert first["CARD-C"]["idTokenInfo"] == {
                "status": "Accepted",
                "groupIdToken": {"idToken": "CARD-A", "type": "ISO14443"},
            }
            assert first["CARD-A"]["idToken"] == {"idToken": "CARD-A", "type": "ISO14443"}

        # A new card: a differential with it alone, one version on.
        added = await client.post("/tokens", json={"id_tag": "CARD-D", "status": "Accepted"})
        assert added.status_code == 201
        await sim.wait_until(lambda: len(sends(sim)) == 2)
        diff = sends(sim)[1]
        assert diff["updateType"] == "Differential" and version_of(diff) == 2
        assert tags(diff) == ["CARD-D"] and info(diff["localAuthorizationList"][0]) == {
            "status": "Accepted"
        }
        # Blocked: sent again with its new status.
        patched = await client.patch("/tokens/CARD-A", json={"status": "Blocked"})
        assert patched.status_code == 200
        await sim.wait_until(lambda: held.status_of("CARD-A") == "Blocked")
        # Deleted: sent without a status, which takes it off the list.
        assert (await client.delete("/tokens/CARD-B")).status_code == 204
        await sim.wait_until(lambda: held.status_of("CARD-B") is None)
        removal = sends(sim)[-1]
        assert removal["updateType"] == "Differential"
        assert removal["localAuthorizationList"] == [
            {"idTag": "CARD-B"}
            if sim.dialect.subprotocol == "ocpp1.6"
            else {"idToken": {"idToken": "CARD-B", "type": "ISO14443"}}
        ]
        # Sandbox tokens never reach a charger.
        staged = {"id_tag": "CARD-STG2", "status": "Accepted", "stg": True}
        assert (await client.post("/tokens", json=staged)).status_code == 201
        state = await settled(client, cp, "in_sync")
        assert state["entries"] == 3 and sorted(held.entries) == ["CARD-A", "CARD-C", "CARD-D"]
        assert state["version"] == held.version == version_of(sends(sim)[-1])
        versions = [version_of(message) for message in sends(sim)]
        assert versions == sorted(set(versions)), versions


async def test_capacity_and_message_size(server: Server, simulators: Simulators) -> None:
    """More tokens than the charger holds: Accepted ones first; split into messages of the
    charger's size (a full list, then differentials). A 1.6 charger gets no token longer than
    its 20-character idTag."""
    op = await server.operator()
    long_card = {"id_tag": "LONG-TOKEN-OF-25-CHARS-XX", "status": "Accepted"}
    async with op.client() as client:
        for n, status in enumerate(["Blocked", "Accepted", "Expired", "Accepted", "Accepted"]):
            card = {"id_tag": f"T-{n}", "status": status}
            assert (await client.post("/tokens", json=card)).status_code == 201
        assert (await client.post("/tokens", json=long_card)).status_code == 201
    charger = await op.add_charger()
    sim = await online(simulators, server, charger, local_list=LocalList(capacity=4, per_message=2))
    assert sim.local_list is not None
    async with op.client() as client:
        state = await settled(client, charger.charge_point_id, "in_sync")
    if sim.dialect.subprotocol == "ocpp1.6":
        assert sorted(sim.local_list.entries) == ["T-0", "T-1", "T-3", "T-4"]
    else:
        assert sorted(sim.local_list.entries) == [long_card["id_tag"], "T-1", "T-3", "T-4"]
    assert [(m["updateType"], len(tags(m))) for m in sends(sim)] == [
        ("Full", 2),
        ("Differential", 2),
    ]
    assert state["entries"] == 4 and state["version"] == 2


async def test_failed_and_version_mismatch_get_a_full_resend(
    server: Server, simulators: Simulators
) -> None:
    """TC_043_3: Failed; then VersionMismatch to a differential: both get the full list again."""
    op = await with_cards(server)
    charger = await op.add_charger()
    held = LocalList(fails=1)
    sim = await online(simulators, server, charger, local_list=held)
    async with op.client() as client:
        await settled(client, charger.charge_point_id, "in_sync")
        assert [m["updateType"] for m in sends(sim)] == ["Full", "Full"]
        held.mismatches = 1
        assert (
            await client.post("/tokens", json={"id_tag": "NEW", "status": "Accepted"})
        ).is_success
        await sim.wait_until(lambda: "NEW" in held.entries)
        assert [m["updateType"] for m in sends(sim)[2:]] == ["Differential", "Full"]
        state = await settled(client, charger.charge_point_id, "in_sync")
        assert state["entries"] == 4 and state["last_error"] is None


async def test_a_list_that_never_takes_is_left_failed(
    server: Server, simulators: Simulators
) -> None:
    """A charger that keeps failing gets a bounded number of full resends, no storm; the list
    settling failed, then in sync, is a webhook event each time."""
    op = await with_cards(server)
    charger = await op.add_charger()
    receiver = Receiver()
    await receiver.start()
    try:
        await provisioning.add_webhook(server.settings, op.name, receiver.url)
        held = LocalList(fails=100)
        sim = await online(simulators, server, charger, local_list=held)
        async with op.client() as client:
            state = await settled(client, charger.charge_point_id, "failed")
            assert state["last_error"] == "The charger answered SendLocalList with Failed"
            sent = len(sends(sim))
            assert sent == 3
            # Until something changes: then it is tried again.
            held.fails = 0
            card = {"id_tag": "X", "status": "Accepted"}
            assert (await client.post("/tokens", json=card)).is_success
            state = await settled(client, charger.charge_point_id, "in_sync")
            assert len(sends(sim)) == sent + 1
        await until(lambda: len(changes(receiver)) == 2)
    finally:
        await receiver.stop()
    failed, in_sync = changes(receiver)
    assert failed["charge_point_id"] == charger.charge_point_id
    assert (failed["state"], failed["entries"], failed["version"]) == ("failed", 0, 0)
    assert in_sync == {"charge_point_id": charger.charge_point_id, **state}


def changes(receiver: Receiver) -> list[dict[str, Any]]:
    return [e["data"] for e in receiver.events() if e["type"] == "local_list.changed"]


@pytest.mark.parametrize("kind", ["no-profile", "disabled"])
async def test_a_charger_without_a_list(server: Server, simulators: Simulators, kind: str) -> None:
    """TC_042_1 and TC_043_1: no list (1.6: version -1 and NotSupported; 2.0.1: CALLERROR), or
    one switched off: marked unsupported, never synced on its own; a forced resend is a Full
    that fails and says why."""
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    held = None if kind == "no-profile" else LocalList(enabled=False)
    sim = await online(simulators, server, charger, local_list=held)
    async with op.client() as client:
        state = await settled(client, cp, "unsupported")
        assert state["supported"] is False and state["entries"] == 0
        assert (await client.post("/tokens", json={"id_tag": "Y", "status": "Accepted"})).is_success

        version = await client.post(
            f"/chargers/{cp}/commands", json={"command": "get_local_list_version"}
        )
        failed = await poll_queue(client, version.json()["id"])
        assert failed["status"] == "FAILURE", failed
        if sim.dialect.subprotocol == "ocpp1.6":
            assert failed["reason"] == (
                "The charger has no local authorization list (GetLocalListVersion: -1)"
            )
        else:
            assert "NotSupported" in failed["reason"], failed

        resend = await client.post(f"/chargers/{cp}/local-list")
        assert resend.status_code == 202, resend.text
        done = await poll_queue(client, resend.json()["id"])
        assert done["status"] == "FAILURE" and done["command"] == "send_local_list", done
        assert done["reason"].startswith("The charger has no local authorization list"), done
        # Only the forced one was sent: the full list, whatever version the charger said.
        [full] = sends(sim)
        assert full["updateType"] == "Full" and version_of(full) == 1
        state = await local_list(client, cp)
        assert state["state"] == "unsupported"


async def test_get_local_list_version_command(server: Server, simulators: Simulators) -> None:
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    await online(simulators, server, charger, local_list=LocalList())
    async with op.client() as client:
        await settled(client, cp, "in_sync")
        sent = await client.post(
            f"/chargers/{cp}/commands", json={"command": "get_local_list_version"}
        )
        done = await poll_queue(client, sent.json()["id"])
    # The charger's answer, in its version's words.
    named = "listVersion" if simulators.ocpp_version == "1.6" else "versionNumber"
    assert done == {
        "id": sent.json()["id"],
        "status": "SUCCESS",
        "command": "get_local_list_version",
        "result": {named: 1},
    }


async def test_changes_while_offline_go_as_one_differential(
    server: Server, simulators: Simulators
) -> None:
    """Changes coalesce: five made while the charger is away go as one differential when it is
    back, not as five syncs."""
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    held = LocalList()
    sim = await online(simulators, server, charger, local_list=held)
    async with op.client() as client:
        await settled(client, cp, "in_sync")
        await sim.stop()
        for n in range(5):
            card = {"id_tag": f"AWAY-{n}", "status": "Accepted"}
            assert (await client.post("/tokens", json=card)).status_code == 201
        assert (await local_list(client, cp))["state"] == "pending"
        asked = sim.count("GetLocalListVersion")
        sim.start()
        state = await settled(client, cp, "in_sync")
    assert state["entries"] == 8 and state["version"] == 2
    [_, diff] = sends(sim)
    assert diff["updateType"] == "Differential" and version_of(diff) == 2
    assert sorted(tags(diff)) == [f"AWAY-{n}" for n in range(5)]
    # At most two syncs: one may have been under way as the charger dropped (the server had
    # not seen it go), with one waiting behind it for the changes made meanwhile.
    assert asked < sim.count("GetLocalListVersion") <= asked + 2


async def test_a_list_changed_behind_our_back_is_sent_whole(
    server: Server, simulators: Simulators
) -> None:
    """On reconnect the version is asked; one we did not send gets the full list again, above
    it. A forced resend is a full list too."""
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    held = LocalList()
    sim = await online(simulators, server, charger, local_list=held)
    async with op.client() as client:
        await settled(client, cp, "in_sync")
        await sim.stop()
        held.entries.pop("CARD-A")
        held.version = 7
        sim.start()
        await sim.wait_until(lambda: len(sends(sim)) == 2)
        again = sends(sim)[1]
        assert again["updateType"] == "Full" and version_of(again) == 8
        state = await settled(client, cp, "in_sync")
        assert state["version"] == 8 and state["entries"] == 3

        resend = await client.post(f"/chargers/{cp}/local-list", headers={"Idempotency-Key": "k1"})
        assert resend.status_code == 202
        done = await poll_queue(client, resend.json()["id"])
        assert done["status"] == "SUCCESS", done
        assert done["result"] == "SendLocalList: version 9 (Full, 3 entries in 1 message)"
        replay = await client.post(f"/chargers/{cp}/local-list", headers={"Idempotency-Key": "k1"})
        assert replay.json() == resend.json()
        assert [m["updateType"] for m in sends(sim)] == ["Full", "Full", "Full"]


async def test_the_endpoints_check_their_input(server: Server, simulators: Simulators) -> None:
    op = await server.operator()
    charger = await op.add_charger()
    cp = charger.charge_point_id
    async with op.client() as client:
        # Never connected: not known yet.
        assert await local_list(client, cp) == {
            "supported": None,
            "version": 0,
            "charger_version": None,
            "state": "pending",
            "entries": 0,
            "last_synced": None,
            "last_error": None,
        }
        assert_error(await client.get("/chargers/NOPE-404/local-list"), 404)
        assert_error(await client.get("/chargers/bad%20id/local-list"), 400)
        assert_error(await client.post(f"/chargers/{cp}/local-list", json={"x": 1}), 400)
        # Offline: the queue item fails at once.
        offline = await client.post(f"/chargers/{cp}/local-list")
        assert (await poll_queue(client, offline.json()["id"]))["status"] == "FAILURE"
        # Sandbox: no charger is contacted.
        sim = await online(simulators, server, charger, local_list=LocalList())
        # No tokens: an empty Full list (TC_042_2's version 1), which the charger reports as 0.
        state = await settled(client, cp, "in_sync")
        assert (state["version"], state["entries"]) == (0, 0)
        [empty] = sends(sim)
        assert empty["updateType"] == "Full" and "localAuthorizationList" not in empty
        staged = await client.post(f"/chargers/{cp}/local-list", json={"stg": True})
        assert staged.status_code == 202
        item = await client.get(f"/queue/{staged.json()['id']}", params={"stg": "true"})
        assert item.status_code == 200, item.text
        assert len(sends(sim)) == 1


@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_local_lists_with_an_independent_strict_charger(
    server: Server, dialect: Dialect
) -> None:
    """ocpp-rpc checks our GetLocalListVersion and SendLocalList against its own schemas."""
    op = await with_cards(server)
    charger = await op.add_charger()
    cp = charger.charge_point_id
    node = NodeCharger(server, charger, dialect, "--local-list=2", "--local-list-per-message=1")
    async with running(node), op.client() as client:
        state = await settled(client, cp, "in_sync")
        assert state["entries"] == 2 and state["version"] == 2
        assert (await client.post("/tokens", json={"id_tag": "Z", "status": "Blocked"})).is_success
        assert (await client.delete("/tokens/CARD-C")).status_code == 204

        async def removed() -> bool:
            return any(tags(e["params"]) == ["CARD-C"] for e in node.of("call", "SendLocalList"))

        await eventually(removed)
        state = await settled(client, cp, "in_sync")
        assert state["entries"] == 2
        replies = [e["result"]["status"] for e in node.of("reply", "SendLocalList")]
        assert replies and all(status == "Accepted" for status in replies), replies
        calls = node.of("call", "SendLocalList")
        assert calls[0]["params"]["updateType"] == "Full"
        assert node.of("call", "GetLocalListVersion")
        assert node.failures() == [], node.transcript()
