"""GroupCommit: writes that arrive together are written together, and no item is lost."""

from __future__ import annotations

import asyncio

import pytest

from chargegate.services.group_commit import GroupCommit


class Store:
    """Records each write's batch; a write that contains a "bad" item fails as a whole."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, batch: list[str]) -> None:
        self.writing.set()
        await self.gate.wait()
        if "bad" in batch:
            raise ValueError("bad item")
        self.batches.append(batch)


async def test_items_added_during_a_write_go_together_in_the_next() -> None:
    store = Store()
    group = GroupCommit(store.write, "test")
    store.gate.clear()
    first = asyncio.create_task(group.add("a"))
    await store.writing.wait()  # "a" is being written, held at the gate
    others = [asyncio.create_task(group.add(item)) for item in ("b", "c", "d")]
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *others)
    assert store.batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_item_fails_its_own_caller_only() -> None:
    store = Store()
    group = GroupCommit(store.write, "test")
    store.gate.clear()
    first = asyncio.create_task(group.add("a"))
    await store.writing.wait()
    good, bad = asyncio.create_task(group.add("b")), asyncio.create_task(group.add("bad"))
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, good)
    with pytest.raises(ValueError, match="bad item"):
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
