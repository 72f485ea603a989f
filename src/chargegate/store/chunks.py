"""Long lists of keys: split for `IN (...)` and set-based statements, in rounds of one per
owner, and their rows locked."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

Key = TypeVar("Key")

# Keys per statement: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000


def chunks(keys: Sequence[Key], size: int = CHUNK) -> list[Sequence[Key]]:
    return [keys[first : first + size] for first in range(0, len(keys), size)]


def rounds(items: Iterable[Key], owner: Callable[[Key], Hashable]) -> list[list[Key]]:
    """The items in rounds, each owner's n-th item in the n-th round: rounds written in turn,
    each set-based, keep the order of each owner's items."""
    found: list[list[Key]] = []
    placed: dict[Hashable, int] = {}
    for item in items:
        key = owner(item)
        turn = placed.get(key, 0)
        placed[key] = turn + 1
        if turn == len(found):
            found.append([])
        found[turn].append(item)
    return found


async def lock_rows(
    session: AsyncSession, key: InstrumentedAttribute[Any], keys: Iterable[Any]
) -> None:
    """Locks the rows with these keys (`key` is their table's primary key), in key order, so
    that two writes locking overlapping rows cannot each hold one the other waits for."""
    for chunk in chunks(sorted(set(keys))):
        await session.execute(select(key).where(key.in_(chunk)).order_by(key).with_for_update())


async def rows_by(
    session: AsyncSession, key: InstrumentedAttribute[Any], keys: Collection[Any]
) -> dict[Any, Any]:
    """The rows of `key`'s table whose `key` is one of `keys`, by it; keys with no row are
    left out."""
    found: dict[Any, Any] = {}
    for chunk in chunks(sorted(set(keys))):
        rows = await session.scalars(select(key.class_).where(key.in_(chunk)))
        found.update((getattr(row, key.key), row) for row in rows)
    return found
