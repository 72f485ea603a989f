"""POST /1.2/tokens:import and `chargegate tokens import`: all rows checked as POST /1.2/tokens
checks one, all imported or none; upsert and create; bounded; the sandbox and other operators
kept apart; Idempotency-Key; a CSV file (and SteVe's export) through the real command line; and
the imported cards then answered to chargers in both OCPP versions (a hand-driven one, our
simulator, and the strict-schema charger we did not write)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargegate.domain.errors import InvalidArgument
from chargegate.domain.token_csv import read_token_csv
from chargegate.domain.token_import import parse_rows
from support import Operator, Server, Simulators, assert_error, online, raw_charger
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_token_authorization import CARDS, EXPECTED, authorize_results, info, presented

IMPORT = "/tokens:import"
MAX_ROWS = 10_000


async def imported(client: httpx.AsyncClient, tokens: list[Any], **more: Any) -> dict[str, Any]:
    response = await client.post(IMPORT, json={"tokens": tokens, **more})
    assert response.status_code == 200, response.text
    counts: dict[str, Any] = response.json()
    return counts


def refused(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """A refusal that lists rows: `message` first, then `errors` by index; returns them."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["message", "errors"], body
    assert "nothing was imported" in body["message"], body
    errors: list[dict[str, Any]] = body["errors"]
    for error in errors:
        assert set(error) == {"index", "message"} and error["message"].strip(), error
    return errors


async def add(client: httpx.AsyncClient, **card: Any) -> None:
    """One card, as POST /1.2/tokens adds it."""
    response = await client.post("/tokens", json=card)
    assert response.status_code == 201, response.text


COUNTS = ("created", "updated", "unchanged")


def counts(*numbers: int) -> dict[str, int]:
    return dict(zip(COUNTS, numbers, strict=True))


async def registry(client: httpx.AsyncClient, stg: bool = False) -> dict[str, dict[str, Any]]:
    response = await client.get("/tokens", params={"limit": 0, "stg": str(stg).lower()})
    assert response.status_code == 200, response.text
    return {token["id_tag"]: token for token in response.json()}


async def test_an_import_adds_changes_and_leaves_alone(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        kept = {"id_tag": "CARD-KEEP", "status": "Accepted", "type": "eMAID", "note": "kept"}
        kept["expires"] = "2031-01-31T20:40:00Z"
        await add(client, **kept)
        await add(client, id_tag="CARD-BLOCK", status="Accepted", note="old")
        before = await registry(client)
        tokens: list[dict[str, Any]] = [
            {"id_tag": "FLEET-9", "status": "Accepted", "type": "Central"},
            # Its parent is a token of the same import.
            {"id_tag": "card-new", "status": "Accepted", "parent_id_tag": "fleet-9", "note": "v"},
            # Names only its status, which it has: its type, note and expiry stay as they are.
            {"id_tag": "card-keep", "status": "Accepted"},
            # Named fields change, null clears.
            {"id_tag": "CARD-BLOCK", "status": "Blocked", "note": None},
        ]
        assert await imported(client, tokens) == counts(2, 1, 1)
        after = await registry(client)
        assert after["CARD-KEEP"] == before["CARD-KEEP"]  # not even its `updated`
        assert after["CARD-BLOCK"]["status"] == "Blocked" and after["CARD-BLOCK"]["note"] is None
        assert after["CARD-BLOCK"]["updated"] >= before["CARD-BLOCK"]["updated"]
        assert after["card-new"]["parent_id_tag"] == "fleet-9"
        assert after["card-new"]["type"] == "ISO14443" and after["FLEET-9"]["type"] == "Central"
        assert set(after) == {"CARD-KEEP", "CARD-BLOCK", "card-new", "FLEET-9"}

        # The same file again changes nothing; upsert is the default, as named.
        again = await imported(client, tokens, mode="upsert")
        assert again == counts(0, 0, 4)
        assert await registry(client) == after
        assert await imported(client, []) == counts(0, 0, 0)


BAD_ROWS: list[Any] = [
    {"id_tag": "CARD-1"},
    {"status": "Accepted"},
    {"id_tag": "CARD-X", "status": "accepted"},
    {"id_tag": "A" * 37, "status": "Accepted"},
    {"id_tag": "CARD X", "status": "Accepted"},
    {"id_tag": "CARD-X", "status": "Accepted", "type": "Card"},
    {"id_tag": "CARD-X", "status": "Accepted", "expires": "2031-01-31T20:40:00+0200"},
    {"id_tag": "CARD-X", "status": "Accepted", "parent_id_tag": "NO GOOD"},
    {"id_tag": "CARD-X", "status": "Accepted", "note": "x" * 256},
    {"id_tag": "CARD-X", "status": "Accepted", "colour": "red"},
    # The sandbox flag is the import's, not a row's.
    {"id_tag": "CARD-X", "status": "Accepted", "stg": True},
    "CARD-X",
    None,
]


async def test_one_bad_row_refuses_the_import_and_changes_nothing(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        await add(client, id_tag="CARD-1", status="Accepted")
        before = await registry(client)
        good = {"id_tag": "CARD-NEW", "status": "Accepted"}
        change = {"id_tag": "CARD-1", "status": "Blocked"}
        for bad in BAD_ROWS:
            response = await client.post(IMPORT, json={"tokens": [good, bad, change]})
            [error] = refused(response, 400)
            assert error["index"] == 1 and len(error["message"]) > 10, (bad, error)
        assert await registry(client) == before

        # A card twice, letter case aside: the second is at fault, and says where the first is.
        twice = [good, change, {"id_tag": "card-new", "status": "Blocked"}]
        [error] = refused(await client.post(IMPORT, json={"tokens": twice}), 400)
        assert error["index"] == 2 and "index 0" in error["message"], error

        # Many bad rows: the first ones are listed, the message counts them all.
        many = [{"id_tag": f"CARD-{n}", "status": "Open"} for n in range(150)]
        response = await client.post(IMPORT, json={"tokens": [good, *many]})
        errors = refused(response, 400)
        assert [e["index"] for e in errors] == list(range(1, 101))
        assert "150 of the 151" in response.json()["message"]
        assert await registry(client) == before

        # What is wrong with the request itself is a plain {"message"}.
        for body in (
            {},
            {"tokens": {"id_tag": "CARD-2"}},
            {"tokens": [good], "mode": "replace"},
            {"tokens": [good], "stg": "yes"},
            {"tokens": [good], "colour": "red"},
        ):
            assert_error(await client.post(IMPORT, json=body), 400)
        assert_error(await client.post(IMPORT, content=b"[1]"), 400)
        assert await registry(client) == before


async def test_create_mode_refuses_cards_that_exist(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        await add(client, id_tag="CARD-A", status="Accepted")
        rows = [
            {"id_tag": "CARD-B", "status": "Accepted"},
            {"id_tag": "card-a", "status": "Blocked"},
        ]
        response = await client.post(IMPORT, json={"tokens": rows, "mode": "create"})
        [error] = refused(response, 409)
        assert error["index"] == 1 and "exists already" in error["message"], error
        assert set(await registry(client)) == {"CARD-A"}
        assert await imported(client, rows[:1], mode="create") == counts(1, 0, 0)


async def test_an_import_is_bounded(shared_server: Server) -> None:
    """10,000 rows at most, in one transaction written in chunks; bodies of its own size."""
    operator = await shared_server.operator()
    async with operator.client() as client:
        rows = [{"id_tag": f"C{n:05d}", "status": "Accepted"} for n in range(MAX_ROWS)]
        assert await imported(client, rows) == counts(MAX_ROWS, 0, 0)
        for n in range(0, MAX_ROWS, 3):
            rows[n] = {**rows[n], "status": "Blocked"}
        assert await imported(client, rows) == counts(0, 3334, 6666)
        stored = await registry(client)
        assert len(stored) == MAX_ROWS
        assert sum(token["status"] == "Blocked" for token in stored.values()) == 3334

        # One row too many, and the import is refused whole.
        over = [*rows, {"id_tag": "C99999", "status": "Accepted"}]
        message = assert_error(await client.post(IMPORT, json={"tokens": over}), 413)
        assert str(MAX_ROWS) in message
        # A body larger than an import may be (CHARGEGATE_API_IMPORT_MAX_BODY_BYTES, 4 MiB).
        huge = b'{"tokens": [' + b" " * (4 * 1024 * 1024) + b"]}"
        assert_error(await client.post(IMPORT, content=huge), 413)
        # Other requests keep their own limit (64 KiB).
        big = {"id_tag": "CARD-BIG", "status": "Accepted", "note": "x" * 70_000}
        assert_error(await client.post("/tokens", json=big), 413)
        assert await registry(client) == stored


async def test_imports_at_once_neither_deadlock_nor_half_import(shared_server: Server) -> None:
    """Two imports of the same cards at once, listed in opposite orders: each locks what it
    finds in one order, so changes wait for each other; a card the other import added first
    refuses the whole import (409, sent again it passes), never a 500 or half an import."""
    operator = await shared_server.operator()
    tags = [f"K{n:04d}" for n in range(2000)]
    async with operator.client() as client:

        async def both(status: str) -> list[httpx.Response]:
            rows = [{"id_tag": tag, "status": status} for tag in tags]
            return list(
                await asyncio.gather(
                    client.post(IMPORT, json={"tokens": rows}),
                    client.post(IMPORT, json={"tokens": rows[::-1]}),
                )
            )

        added = await both("Accepted")
        assert {r.status_code for r in added} <= {200, 409}, [r.text for r in added]
        assert 200 in {r.status_code for r in added}
        assert sum(r.json().get("created", 0) for r in added) == len(tags)
        changed = await both("Blocked")
        assert [r.status_code for r in changed] == [200, 200], [r.text for r in changed]
        assert sorted(r.json()["updated"] for r in changed) == [0, len(tags)]
        stored = await registry(client)
        assert sorted(stored) == tags
        assert {token["status"] for token in stored.values()} == {"Blocked"}


async def test_another_operators_cards_are_untouched(shared_server: Server) -> None:
    owner = await shared_server.operator()
    other = await shared_server.operator()
    async with owner.client() as mine, other.client() as theirs:
        for stg in (False, True):
            await add(mine, id_tag="CARD-O", status="Accepted", note="owner's", stg=stg)
        before = {stg: await registry(mine, stg) for stg in (False, True)}
        rows = [{"id_tag": "card-o", "status": "Blocked", "note": "other's"}]
        for stg in (False, True):
            # Not a 409 in create mode: the owner's card is not the other operator's business.
            assert await imported(theirs, rows, mode="create", stg=stg) == counts(1, 0, 0)
            assert await imported(theirs, rows, stg=stg) == counts(0, 0, 1)
            assert set(await registry(theirs, stg)) == {"card-o"}
        assert {stg: await registry(mine, stg) for stg in (False, True)} == before


async def test_the_sandbox_is_a_registry_of_its_own(shared_server: Server) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        await imported(client, [{"id_tag": "CARD-S", "status": "Blocked"}], stg=True)
        assert await registry(client) == {}
        await imported(client, [{"id_tag": "CARD-S", "status": "Accepted"}])
        assert (await registry(client, stg=True))["CARD-S"]["status"] == "Blocked"
        assert (await registry(client))["CARD-S"]["status"] == "Accepted"


async def test_a_retry_with_the_same_idempotency_key_imports_nothing_again(
    shared_server: Server,
) -> None:
    operator = await shared_server.operator()
    async with operator.client() as client:
        body = {"tokens": [{"id_tag": "CARD-I", "status": "Accepted"}]}
        key = {"Idempotency-Key": "import-1"}
        first = await client.post(IMPORT, json=body, headers=key)
        assert first.json() == counts(1, 0, 0)
        assert (await client.patch("/tokens/CARD-I", json={"status": "Blocked"})).status_code == 200
        again = await client.post(IMPORT, json=body, headers=key)
        assert again.status_code == 200 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert (await registry(client))["CARD-I"]["status"] == "Blocked"  # not imported again
        other = {"tokens": [{"id_tag": "CARD-J", "status": "Accepted"}]}
        assert_error(await client.post(IMPORT, json=other, headers=key), 422)
        assert set(await registry(client)) == {"CARD-I"}


# -- the command line --------------------------------------------------------------------------


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargegate", "tokens", "import", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def csv_file(tmp_path: Path, name: str, *lines: str) -> Path:
    """As a spreadsheet saves it: a byte order mark, CRLF line ends."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + "".join(f"{line}\r\n" for line in lines).encode())
    return path


async def test_the_command_line_imports_a_csv_file(server: Server, tmp_path: Path) -> None:
    operator = await server.operator()
    cards = csv_file(
        tmp_path,
        "cards.csv",
        "id_tag,status,parent_id_tag,note",  # no expires nor type column
        "FLEET-1,Accepted,,,",  # a trailing separator
        '04E4F2A2B53C80,Accepted,FLEET-1,"van 12, the blue one"',
        " card-2 , Blocked ,,",
        "",
    )
    done = await asyncio.to_thread(cli, server, operator.name, str(cards))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == counts(3, 0, 0)
    async with operator.client() as client:
        stored = await registry(client)
        assert stored["04E4F2A2B53C80"]["note"] == "van 12, the blue one"
        assert stored["04E4F2A2B53C80"]["parent_id_tag"] == "FLEET-1"
        assert stored["card-2"]["status"] == "Blocked"

        # Faults are told by the file's row (line) numbers, and nothing is imported.
        bad = csv_file(
            tmp_path,
            "bad.csv",
            "id_tag,status,expires",
            "CARD-3,Accepted,2031-01-31T20:40:00Z",
            "CARD-4,Open,",
            "card-3,Blocked,",
            "CARD-5,Accepted,2031-01-31 20:40:00",
            "CARD-6,Accepted,,a cell too many",
        )
        done = await asyncio.to_thread(cli, server, operator.name, str(bad))
        assert done.returncode == 1 and done.stdout == "", done
        lines = done.stderr.splitlines()
        assert lines[0].startswith("error: 4 of the 5 tokens are not valid"), lines
        assert lines[1].startswith("  row 3: status must be one of"), lines
        assert lines[2].startswith("  row 4: id_tag 'card-3' is also at row 2"), lines
        assert lines[3].startswith("  row 5: expires:") and "timezone" in lines[3], lines
        assert lines[4].startswith("  row 6: Unknown field(s): column 4"), lines

        # Into the sandbox, and create mode.
        done = await asyncio.to_thread(cli, server, operator.name, str(cards), "--stg")
        assert json.loads(done.stdout) == counts(3, 0, 0)
        done = await asyncio.to_thread(cli, server, operator.name, str(cards), "--mode", "create")
        assert done.returncode == 1 and "  row 2: ID token 'FLEET-1' exists already" in done.stderr
        assert await registry(client) == stored

    for args, error in (
        (["op-nobody", str(cards)], "no operator 'op-nobody'"),
        ([operator.name, str(csv_file(tmp_path, "h.csv", "id_tag,state"))], "Unknown column"),
        ([operator.name, str(csv_file(tmp_path, "n.csv", "id_tag,note"))], "no status column"),
    ):
        done = await asyncio.to_thread(cli, server, *args)
        assert done.returncode == 1 and error in done.stderr, done.stderr


async def test_the_command_line_reads_steves_export(server: Server, tmp_path: Path) -> None:
    """SteVe's ocpp_tag: a card it blocks may start no transaction (0); other counts are
    limits we do not keep."""
    operator = await server.operator()
    export = csv_file(
        tmp_path,
        "ocpp_tag.csv",
        "ocpp_tag_pk,id_tag,parent_id_tag,expiry_date,max_active_transaction_count,note",
        "1,TAG-OK,,2031-01-31T20:40:00Z,1,first",
        "2,TAG-BLOCKED,TAG-OK,,0,",
        "3,TAG-MANY,,,-1,",
    )
    done = await asyncio.to_thread(cli, server, operator.name, str(export))
    assert done.returncode == 0, done.stderr
    async with operator.client() as client:
        stored = await registry(client)
    assert {tag: token["status"] for tag, token in stored.items()} == {
        "TAG-OK": "Accepted",
        "TAG-BLOCKED": "Blocked",
        "TAG-MANY": "Accepted",
    }
    assert stored["TAG-OK"]["expires"] == "2031-01-31T20:40:00"
    assert stored["TAG-BLOCKED"]["parent_id_tag"] == "TAG-OK"


def test_rows_are_told_by_the_line_they_begin_on() -> None:
    """A quoted cell may hold line breaks (which a note may not): the rows after it are still
    told by their line."""
    lines = ["id_tag,status,note", 'A,Accepted,"two', 'lines"', "", "B,Open,", "C,Accepted,"]
    text = "\r\n".join([*lines, "c,Blocked,", ""])
    read = read_token_csv(io.StringIO(text, newline=""))
    assert read.rows[0] == {"id_tag": "A", "status": "Accepted", "note": "two\r\nlines"}
    assert read.lines == [2, 5, 6, 7]
    with pytest.raises(InvalidArgument) as refused_rows:
        parse_rows(read.rows, read.position)
    errors = refused_rows.value.items
    assert [(e.index, read.position(e.index)) for e in errors] == [
        (0, "row 2"),
        (1, "row 5"),
        (3, "row 7"),
    ]
    assert errors[0].message.startswith("note must be") and "also at row 6" in errors[2].message


# -- the imported cards at a charger ----------------------------------------------------------


async def import_cards(server: Server) -> Operator:
    """test_token_authorization's cards, imported (GROUP-1, a parent, in the same import)."""
    op = await server.operator()
    other = await server.operator()
    async with op.client() as client, other.client() as theirs:
        await imported(client, CARDS)
        await imported(client, [{"id_tag": "CARD-STG", "status": "Accepted"}], stg=True)
        await imported(theirs, [{"id_tag": "CARD-THEIRS", "status": "Accepted"}])
    return op


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_imported_cards_answer_a_charger(server: Server, subprotocol: str) -> None:
    op = await import_cards(server)
    async with raw_charger(op, subprotocol) as (raw, _):
        for tag, status in EXPECTED.items():
            answer = await raw.call("Authorize", presented(subprotocol, tag))
            assert info(answer)["status"] == status, (tag, answer)
        ok = info(await raw.call("Authorize", presented(subprotocol, "CARD-OK")))
        if subprotocol == "ocpp1.6":
            assert ok["parentIdTag"] == "GROUP-1", ok
        else:
            # Typed as the parent was imported.
            assert ok["groupIdToken"] == {"idToken": "GROUP-1", "type": "Central"}, ok


async def test_imported_cards_start_and_refuse_at_our_simulator(
    server: Server, simulators: Simulators, tmp_path: Path
) -> None:
    op = await server.operator()
    cards = csv_file(tmp_path, "c.csv", "id_tag,status", "CARD-GO,Accepted", "CARD-STOP,Blocked")
    done = await asyncio.to_thread(cli, server, op.name, str(cards))
    assert done.returncode == 0, done.stderr
    sim = await online(simulators, server, await op.add_charger(connectors=2))
    await sim.begin_transaction(1, "card-go")
    assert sim.connectors[1].status == "Charging"
    # Refused at its start: the charger ends it at once (DeAuthorized).
    await sim.begin_transaction(2, "CARD-STOP")
    await sim.wait_until(lambda: sim.connectors[2].status == "Available", timeout=10)
    assert sim.connectors[2].transaction_id is None


@pytest.mark.parametrize("dialect", [V16, V201], ids=["1.6", "2.0.1"])
async def test_imported_cards_with_the_strict_charger(server: Server, dialect: Dialect) -> None:
    op = await import_cards(server)
    charger = await op.add_charger(connectors=1)
    node = NodeCharger(server, charger, dialect, f"--cards={','.join(EXPECTED)}")
    async with running(node):
        await node.wait_for(lambda event: event["event"] == "cardsPresented")
        answered = authorize_results(node, dialect)
        assert {tag: answered[tag] for tag in EXPECTED} == EXPECTED
