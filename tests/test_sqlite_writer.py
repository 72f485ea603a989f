"""SQLite's writer connection runs its statements on the event loop's thread
(store.sqlite_inline): a long write transaction must still leave the loop's other tasks their
turns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from chargegate.store.database import create_engine

# Far more statements than SLICE_S of work takes, even on a fast machine.
STATEMENTS = 50_000


@pytest.mark.sqlite_only  # the inline writer is SQLite's
async def test_a_long_write_transaction_gives_the_loop_turns(tmp_path: Path) -> None:
    """An expiry wave's thousands of stops are written in one transaction: while it runs, the
    node's sockets (the stops still to send) must not wait for its end."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}")
    other_ran = asyncio.Event()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE stops (id INTEGER PRIMARY KEY)"))
            other = asyncio.create_task(asyncio.to_thread(lambda: None))
            other.add_done_callback(lambda _: other_ran.set())
            written = 0
            while not other_ran.is_set() and written < STATEMENTS:
                await connection.execute(text("INSERT INTO stops DEFAULT VALUES"))
                written += 1
            assert other_ran.is_set(), f"no other task ran during {written} statements"
            assert written < STATEMENTS
        async with engine.connect() as connection:
            assert (await connection.scalar(text("SELECT count(*) FROM stops"))) == written
    finally:
        await engine.dispose()
