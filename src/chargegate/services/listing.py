"""Long lists (limit 0 is "all") read in batches, each batch in a short read of its own.

A list streamed to a client then holds neither the whole list in memory nor a database
connection while the client reads slowly: a few slow readers cannot drain the pool that every
other request needs. Batches follow the keyset order, so none is skipped or repeated while new
rows arrive; a list stays consistent without one snapshot held for its whole length. Each row
leaves as its view (services.views), made while it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from chargegate.domain.cursors import RowMark
from chargegate.services.runtime import Runtime
from chargegate.store.database import AsyncSession

# Rows per read: memory per streamed list, and reads per 500 rows.
BATCH = 500


class Mark(Protocol):
    """Where a page ends, as the cursor the client sends back."""

    def encode(self) -> str: ...


Row = TypeVar("Row")
View = TypeVar("View")
M = TypeVar("M", bound=Mark)


@dataclass(frozen=True, slots=True)
class Keyset(Generic[Row, M]):
    """How to read one list in keyset order."""

    # Up to `size` rows beyond `after`, not beyond `through`.
    rows: Callable[[AsyncSession, M | None, M | None, int], Awaitable[Sequence[Row]]]
    # The last row of a full page (the limit-th beyond `start`), None if the page is not full.
    page_end: Callable[[AsyncSession], Awaitable[M | None]]
    mark: Callable[[Row], M]
    # The client's cursor, and its limit (0: all).
    start: M | None
    limit: int


# One owner's rows by id: (session, owner, size, after id, through id) -> the rows; and the id
# of a full page's last row, (session, owner, limit, after id) -> id or None.
ListedById = Callable[[AsyncSession, int, int, int | None, int | None], Awaitable[Sequence[Row]]]
PageEndById = Callable[[AsyncSession, int, int, int | None], Awaitable[int | None]]


def by_row_id(
    listed: ListedById[Row],
    page_end: PageEndById,
    owner: int,
    row_id: Callable[[Row], int],
    start: RowMark | None,
    limit: int,
) -> Keyset[Row, RowMark]:
    """The keyset of a list in the order of its rows' ids, cursors being those ids."""

    async def rows(
        session: AsyncSession, after: RowMark | None, through: RowMark | None, size: int
    ) -> Sequence[Row]:
        return await listed(
            session,
            owner,
            size,
            None if after is None else after.row_id,
            None if through is None else through.row_id,
        )

    async def end(session: AsyncSession) -> RowMark | None:
        after = None if start is None else start.row_id
        found = await page_end(session, owner, limit, after)
        return None if found is None else RowMark(found)

    return Keyset(
        rows=rows, page_end=end, mark=lambda row: RowMark(row_id(row)), start=start, limit=limit
    )


@dataclass(frozen=True, slots=True)
class Listing(Generic[Row, View, M]):
    rt: Runtime
    keyset: Keyset[Row, M]
    view: Callable[[Row], View]
    first: Sequence[Row]
    # Where this full page ends: the client's next cursor. A page is bounded by this mark
    # rather than by a count, so a row inserted between reading the mark and the rows makes the
    # page one longer instead of pushing its last row out unseen.
    next_page: M | None

    async def batches(self) -> AsyncIterator[list[View]]:
        batch = self.first
        while batch:
            yield [self.view(row) for row in batch]
            if len(batch) < BATCH:
                return
            async with self.rt.reads() as session:
                batch = await self.keyset.rows(
                    session, self.keyset.mark(batch[-1]), self.next_page, BATCH
                )


async def open_listing(
    rt: Runtime, session: AsyncSession, keyset: Keyset[Row, M], view: Callable[[Row], View]
) -> Listing[Row, View, M]:
    """Reads where the page ends and its first batch (so an empty list is known at once)."""
    end = await keyset.page_end(session) if keyset.limit else None
    first = await keyset.rows(session, keyset.start, end, BATCH)
    return Listing(rt, keyset, view, first, end)
