"""Bulk import of ID tokens: the one function both POST /1.2/tokens:import and
`chargegate tokens import` make every import with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from chargegate.bus import Topic
from chargegate.config import Settings
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
from chargegate.services import idempotency, local_lists, token_blocks
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.runtime import Runtime
from chargegate.services.token_blocks import StatusChange
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
    settings: Settings,
    operator_id: int,
    request: TokenImport,
    once: Idempotency[ImportView] | None = None,
) -> ImportView | Earlier:
    """Every row of an import, all in one transaction: all are imported or none, and so is
    what follows a change of production cards (the operator's settings on blocked cards, the
    chargers' local lists), as for one card changed through the API.

    Takes the session factory rather than a Runtime, as the command line has no node: the
    caller wakes the dispatcher if it can (otherwise its next poll finds the commands)."""
    now = utcnow()
    async with sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        view, changes = await _apply(session, operator_id, request, now)
        if not request.staging and view.created + view.updated > 0:
            await token_blocks.tokens_changed(session, settings, operator_id, changes, now)
            await local_lists.tokens_changed(session, operator_id)
        await claim.answered(view)
    return view


async def import_on_node(
    rt: Runtime,
    operator_id: int,
    request: TokenImport,
    once: Idempotency[ImportView] | None = None,
) -> ImportView | Earlier:
    """An import through the API: this node's dispatcher is woken for the commands it queued
    (a sandbox import queues none)."""
    view = await import_tokens(rt.sessions, rt.settings, operator_id, request, once)
    if not request.staging:
        rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)
    return view


async def _apply(
    session: AsyncSession, operator_id: int, request: TokenImport, now: datetime
) -> tuple[ImportView, list[StatusChange]]:
    """The rows written, and the cards whose status they changed."""
    # In folded order, chunk by chunk: every import locks the tokens it finds in the same order.
    rows = sorted(request.rows, key=lambda row: fold(row.id_tag))
    created = updated = 0
    existing: list[ItemError] = []
    statuses: list[StatusChange] = []
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
                    if fields.status is not token.fields.status:
                        change = StatusChange(row.id_tag, token.fields.status, fields.status)
                        statuses.append(change)
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
    return ImportView(created, updated, len(rows) - created - updated), statuses


def _exists(row: ImportRow) -> ItemError:
    return ItemError(
        row.index,
        f"ID token '{row.id_tag}' exists already (tokens are compared without regard to letter "
        "case): import in mode upsert to change it",
    )
