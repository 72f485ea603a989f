"""The operators' ID tokens, by case-folded id_tag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.cursors import TokenMark
from chargegate.domain.token_import import TokenFields
from chargegate.domain.tokens import TokensRequest, fold
from chargegate.store.models import IdToken


async def find(
    session: AsyncSession, operator_id: int, staging: bool, id_tag: str
) -> IdToken | None:
    return await session.scalar(
        select(IdToken).where(
            IdToken.operator_id == operator_id,
            IdToken.staging == staging,
            IdToken.id_tag_folded == fold(id_tag),
        )
    )


async def add(session: AsyncSession, token: IdToken) -> bool:
    """False if the operator has this token already (a concurrent add included)."""
    try:
        async with session.begin_nested():
            session.add(token)
    except IntegrityError:
        return False
    return True


async def remove(
    session: AsyncSession, operator_id: int, staging: bool, id_tag: str
) -> IdToken | None:
    """The token removed, None if there was none."""
    token = await find(session, operator_id, staging, id_tag)
    if token is not None:
        await session.delete(token)
    return token


def _listed(operator_id: int, request: TokensRequest) -> Select[IdToken]:
    query = select(IdToken).where(
        IdToken.operator_id == operator_id, IdToken.staging == request.staging
    )
    if request.status is not None:
        query = query.where(IdToken.status == request.status)
    if request.parent_id_tag is not None:
        # Parents are compared as tokens are: without regard to letter case (tokens are ASCII,
        # so SQL's upper() folds them as fold() does).
        query = query.where(func.upper(IdToken.parent_id_tag) == fold(request.parent_id_tag))
    return query.order_by(IdToken.id_tag_folded)


async def page_end(
    session: AsyncSession, operator_id: int, request: TokensRequest
) -> TokenMark | None:
    """The last token of a full page (the `limit`-th), None if the page is not full."""
    assert request.limit > 0
    query = _listed(operator_id, request)
    if request.after is not None:
        query = query.where(IdToken.id_tag_folded > request.after.folded)
    token = await session.scalar(query.offset(request.limit - 1).limit(1))
    return None if token is None else TokenMark(token.id_tag_folded)


async def listed(
    session: AsyncSession,
    operator_id: int,
    request: TokensRequest,
    size: int,
    after: TokenMark | None,
    through: TokenMark | None,
) -> Sequence[IdToken]:
    """Up to `size` of the listed tokens beyond `after` and not beyond `through`."""
    query = _listed(operator_id, request).limit(size)
    if after is not None:
        query = query.where(IdToken.id_tag_folded > after.folded)
    if through is not None:
        query = query.where(IdToken.id_tag_folded <= through.folded)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: int
    fields: TokenFields


async def stored_tokens(
    session: AsyncSession, operator_id: int, staging: bool, folded: Sequence[str]
) -> dict[str, StoredToken]:
    """The operator's tokens among these case-folded ids, by folded id, locked until the
    transaction ends (in folded id order, as every import takes them: two imports of the same
    tokens wait for each other rather than deadlock)."""
    rows = await session.execute(
        select(
            IdToken.id,
            IdToken.id_tag_folded,
            IdToken.type,
            IdToken.status,
            IdToken.expires_at,
            IdToken.parent_id_tag,
            IdToken.note,
        )
        .where(
            IdToken.operator_id == operator_id,
            IdToken.staging == staging,
            IdToken.id_tag_folded.in_(folded),
        )
        .order_by(IdToken.id_tag_folded)
        .with_for_update()
    )
    return {
        row.id_tag_folded: StoredToken(
            row.id,
            TokenFields(row.type, row.status, row.expires_at, row.parent_id_tag, row.note),
        )
        for row in rows
    }


async def insert_tokens(
    session: AsyncSession,
    operator_id: int,
    staging: bool,
    tokens: Sequence[tuple[str, TokenFields]],
    now: datetime,
) -> bool:
    """New tokens (id_tag, fields), in one statement; False, and none added, if one of them
    exists already (added since they were looked up)."""
    rows = [
        {
            "operator_id": operator_id,
            "staging": staging,
            "id_tag": id_tag,
            "id_tag_folded": fold(id_tag),
            **_columns(fields),
            "created_at": now,
            "updated_at": now,
        }
        for id_tag, fields in tokens
    ]
    try:
        async with session.begin_nested():
            await session.execute(insert(IdToken), rows)
    except IntegrityError:
        return False
    return True


async def update_tokens(
    session: AsyncSession, tokens: Sequence[tuple[int, TokenFields]], now: datetime
) -> None:
    """Tokens (by row id) given new fields, in one statement."""
    await session.execute(
        update(IdToken),
        [{"id": token_id, **_columns(fields), "updated_at": now} for token_id, fields in tokens],
    )


def _columns(fields: TokenFields) -> dict[str, object]:
    return {
        "type": fields.type,
        "status": fields.status,
        "expires_at": fields.expires_at,
        "parent_id_tag": fields.parent_id_tag,
        "note": fields.note,
    }
