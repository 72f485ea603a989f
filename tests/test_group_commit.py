"""GroupCommit: writes that arrive together are written together, and no item is lost."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError

from chargegate.services.group_commit import TIE_ATTEMPTS, DeadLetter, GroupCommit
from chargegate.store.database import permanent_failure


class Store:
    """Records each write's batch; a write that contains a "bad" item fails as a whole (for
    good), one that contains "down" fails as if the database were unreachable."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.tried: list[list[str]] = []
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, batch: list[str]) -> None:
        self.writing.set()
        await self.gate.wait()
        self.tried.append(batch)
        if "bad" in batch:
            raise ValueError("bad item")
        if "down" in batch:
            raise ConnectionRefusedError()
        self.batches.append(batch)


async def held_at_first_write(
    store: Store, what: str, *, keep_failed: bool = False
) -> tuple[GroupCommit[str], asyncio.Task[None]]:
    """A group whose first write ("a") is held at the store's gate: what is added meanwhile
    waits for the next write."""
    group = GroupCommit(store.write, what, keep_failed=keep_failed)
    store.gate.clear()
    first = asyncio.create_task(group.add("a"))
    await store.writing.wait()
    return group, first


async def test_items_added_during_a_write_go_together_in_the_next() -> None:
    store = Store()
    group, first = await held_at_first_write(store, "test")
    others = [asyncio.create_task(group.add(item)) for item in ("b", "c", "d")]
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *others)
    assert store.batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_item_fails_its_own_caller_only() -> None:
    store = Store()
    group, first = await held_at_first_write(store, "test")
    good, bad = asyncio.create_task(group.add("b")), asyncio.create_task(group.add("bad"))
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, good)
    with pytest.raises(DeadLetter, match="test: ValueError"):  # not the message: it has values
        await bad
    assert store.batches == [["a"], ["b"]]  # "b" written on its own after the batch failed


async def test_kept_failures_are_written_by_a_later_flush() -> None:
    written: list[list[str]] = []
    broken = True

    async def write(batch: list[str]) -> None:
        if broken:
            raise OSError("database unavailable")
        written.append(batch)

    group = GroupCommit(write, "test", keep_failed=True)
    await group.add("a")  # returns: kept for later, not lost
    assert written == []
    broken = False
    await group.flush()
    assert written == [["a"]]


def dead_letters(what: str) -> float:
    value = REGISTRY.get_sample_value("chargegate_group_commit_dead_letters_total", {"what": what})
    return value or 0.0


async def test_an_item_refused_for_good_is_dropped_even_where_failures_are_kept() -> None:
    """A value the database refuses fails every batch it joins; kept, it would be retried for
    ever, and every batch after it would fall back to one write per item. It is dropped instead:
    counted, and DeadLetter raised in its own caller, which decides what happens instead."""
    store = Store()
    group, first = await held_at_first_write(store, "test_refused", keep_failed=True)
    good, bad = asyncio.create_task(group.add("b")), asyncio.create_task(group.add("bad"))
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, good)
    with pytest.raises(DeadLetter, match="test_refused: ValueError"):
        await bad
    assert dead_letters("test_refused") == 1
    await group.flush()  # nothing kept to retry
    await asyncio.gather(group.add("c"), group.add("d"))
    assert store.batches == [["a"], ["b"], ["c", "d"]]
    assert [batch for batch in store.tried if "bad" in batch] == [["b", "bad"], ["bad"]]


class Orig(Exception):
    """A driver error as SQLAlchemy holds it (`orig`), with PostgreSQL's SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(orig: Exception, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return kind("UPDATE commands SET result = ?", ("x",), orig)


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), True),
        (StatementError("bind failed", None, {}, ValueError("naive datetime")), True),
        (wrapped(Orig("23505"), IntegrityError), True),
        (wrapped(Orig("22021")), True),  # PostgreSQL: a NUL in text
        (wrapped(Orig("22003")), True),  # PostgreSQL: numeric value out of range
        (wrapped(Orig("40P01")), False),  # deadlock: the same write passes when retried
        (wrapped(Orig("08006")), False),  # connection failure
        (wrapped(Orig("57P01")), False),  # the server is shutting down
        (wrapped(Exception("database is locked"), OperationalError), False),
        (ConnectionRefusedError(), False),
        (TimeoutError(), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_what_fails_for_good(error: Exception, for_good: bool) -> None:
    assert permanent_failure(error) is for_good


async def test_an_item_that_loses_a_tie_is_written_again_by_the_group_alone() -> None:
    """PostgreSQL rolls one of two deadlocked transactions back; run again, it passes. The
    group commit is where that happens (its callers do not retry), a bounded number of times."""
    ties = {"tie": 2, "always": 99}
    tried: list[list[str]] = []

    async def write(batch: list[str]) -> None:
        tried.append(batch)
        for item in batch:
            if ties.get(item):
                ties[item] -= 1
                raise wrapped(Orig("40P01"))

    group = GroupCommit(write, "test_ties")
    await group.add("tie")  # the batch, then alone twice: the second time it passes
    assert tried == [["tie"]] * 3
    tried.clear()
    with pytest.raises(DBAPIError):
        await group.add("always")
    assert tried == [["always"]] * (1 + TIE_ATTEMPTS)
    assert dead_letters("test_ties") == 0  # a tie is not the item's fault


async def test_an_item_whose_caller_is_gone_is_written_all_the_same() -> None:
    """The API's caller goes away when its client hangs up: what it asked for is still done."""
    store = Store()
    group, first = await held_at_first_write(store, "test")
    gone = asyncio.create_task(group.add("b"))
    await asyncio.sleep(0)  # "b" is waiting for the next write
    gone.cancel()
    store.gate.set()
    await first
    await group.flush()
    assert store.batches == [["a"], ["b"]]


async def test_an_item_nobody_waits_for_is_written_and_its_failure_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    group, first = await held_at_first_write(store, "test")
    for item in ("b", "bad", "down"):
        group.put(item)
    store.gate.set()
    await first
    await group.flush()
    assert store.batches == [["a"], ["b"]]
    assert "dropped an item the database refuses for good" in caplog.text
    assert "an item nobody waits for was not written" in caplog.text


async def test_items_that_trickle_in_share_a_write_when_the_writer_lingers() -> None:
    store = Store()
    group = GroupCommit(store.write, "test", linger=60)
    group.put("a")
    await asyncio.sleep(0)  # the writer has started, and waits for more
    group.put("b")
    await group.flush()  # without waiting out the minute
    assert store.batches == [["a", "b"]]
