"""The running (OPEN) production sessions of an operator's tokens: for ConcurrentTx, and for
stopping the sessions of a token the operator blocks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import TransactionState
from chargegate.domain.tokens import fold
from chargegate.store.chunks import chunks
from chargegate.store.models import IdToken, Transaction
from chargegate.store.transactions import SESSION


# Tokens are ASCII, so SQL's upper() folds a session's idTag as fold() does.
def _folded_tag() -> ColumnElement[str]:
    return func.upper(Transaction.id_tag)


def _live(operator_id: int, *conditions: Any) -> Select[int]:
    # Chargers only ever run production sessions: the sandbox never reaches one.
    return select(Transaction.id).where(
        Transaction.operator_id == operator_id,
        Transaction.staging.is_(False),
        Transaction.state == TransactionState.OPEN,
        # A start the charger was refused is its own record, not a session.
        SESSION,
        *conditions,
    )


async def any_live(
    session: AsyncSession,
    operator_id: int,
    id_tag: str,
    group: str | None,
    before: int | None,
) -> bool:
    """Whether a session of this token runs (with `group`: also one of the group token itself
    or of any registered token in that group), among those recorded before session `before`."""
    matches = [_folded_tag() == fold(id_tag)]
    if group is not None:
        members = select(IdToken.id_tag_folded).where(
            IdToken.operator_id == operator_id,
            IdToken.staging.is_(False),
            func.upper(IdToken.parent_id_tag) == fold(group),
        )
        matches += [_folded_tag() == fold(group), _folded_tag().in_(members)]
    query = _live(operator_id, or_(*matches))
    if before is not None:
        query = query.where(Transaction.id < before)
    return await session.scalar(query.limit(1)) is not None


async def of_tokens(session: AsyncSession, operator_id: int, id_tags: Iterable[str]) -> list[int]:
    """The ids of these tokens' running sessions, in id order (the order they are locked in):
    one statement per chunk of tokens, however many an import blocks."""
    running: set[int] = set()
    for chunk in chunks(sorted({fold(id_tag) for id_tag in id_tags})):
        query = _live(operator_id, _folded_tag().in_(chunk))
        running.update((await session.scalars(query)).all())
    return sorted(running)
