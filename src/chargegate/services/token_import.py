"""Bulk import of ID tokens: the one function both POST /1.2/tokens:import and
`chargegate tokens import` make every import with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from chargegate.domain.errors import Conflict, ItemError
from chargegate.domain.times import utcnow
from chargegate.domain.token_import import (
    ImportMode,
    ImportRow,
    TokenFields,
    TokenImport,
    listed,
    refusal,
)
from chargegate.domain.tokens import fold
from chargegate.services import idempotency
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.store import id_tokens as token_store
from chargegate.store.chunks import chunks
from chargegate.store.database import AsyncSession, SessionFactory

# Rows per statement: with their ten columns, well under SQLite's and PostgreSQL's limits on
# bound parameters, and the rows a statement holds in memory.
IMPORT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ImportView:
    """What an import did, as the API and the command line print it (asdict)."""

    created: int
    updated: int
    unchanged: int


async def import_tokens(
    sessions: SessionFactory,
    operator_id: int,
    request: TokenImport,
    once: Idempotency[ImportView] | None = None,
) -> ImportView | Earlier:
    """Every row of an import, all in one transaction: all are imported or none.

    Takes the session factory rather than a Runtime, as the command line has no node. Anything
    that must follow a change of tokens belongs in `_apply`, in the import's transaction."""
    async with sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        view = await _apply(session, operator_id, request, utcnow())
        await claim.answered(view)
    return view


async def _apply(
    session: AsyncSession, operator_id: int, request: TokenImport, now: datetime
) -> ImportView:
    # In folded order, chunk by chunk: every import locks the tokens it finds in the same order.
    rows = sorted(request.rows, key=lambda row: fold(row.id_tag))
    created = updated = 0
    existing: list[ItemError] = []
    for chunk in chunks(rows, IMPORT_CHUNK):
        stored = await token_store.stored_tokens(
            session, operator_id, request.staging, [fold(row.id_tag) for row in chunk]
        )
        new = [(row.id_tag, row.fields) for row in chunk if fold(row.id_tag) not in stored]
        found = [(row, stored[fold(row.id_tag)]) for row in chunk if fold(row.id_tag) in stored]
        changed: list[tuple[int, TokenFields]] = []
        match request.mode:
            case ImportMode.CREATE:
                existing += [_exists(row) for row, _ in found]
            case ImportMode.UPSERT:
                for row, token in found:
                    fields = row.applied_to(token.fields)
                    if fields != token.fields:
                        changed.append((token.id, fields))
            case _:
                assert_never(request.mode)
        if existing:
            continue  # refused: only the rest of the existing tokens is still to be found
        if new and not await token_store.insert_tokens(
            session, operator_id, request.staging, new, now
        ):
            raise Conflict("Some of these tokens were added while importing them: send it again")
        if changed:
            await token_store.update_tokens(session, changed, now)
        created += len(new)
        updated += len(changed)
    if existing:
        existing.sort(key=lambda error: error.index)
        raise Conflict(
            refusal(len(existing), len(rows), "exist already (mode create)"), listed(existing)
        )
    return ImportView(created, updated, len(rows) - created - updated)


def _exists(row: ImportRow) -> ItemError:
    return ItemError(
        row.index,
        f"ID token '{row.id_tag}' exists already (tokens are compared without regard to letter "
        "case): import in mode upsert to change it",
    )
