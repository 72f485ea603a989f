"""The operator's ID token registry, as the API manages it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from chargegate.bus import Topic
from chargegate.domain.cursors import TokenMark
from chargegate.domain.errors import Conflict, NotFound
from chargegate.domain.times import utcnow
from chargegate.domain.tokens import (
    TokenCreate,
    TokenPatch,
    TokensRequest,
    TokenStatus,
    TokenType,
    fold,
)
from chargegate.services import local_lists, token_blocks
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.runtime import Runtime
from chargegate.store import id_tokens as token_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import IdToken


@dataclass(frozen=True, slots=True)
class TokenView:
    id_tag: str
    type: TokenType
    status: TokenStatus
    expires: datetime | None
    parent_id_tag: str | None
    note: str | None
    created: datetime
    updated: datetime


def token_view(token: IdToken) -> TokenView:
    return TokenView(
        id_tag=token.id_tag,
        type=token.type,
        status=token.status,
        expires=token.expires_at,
        parent_id_tag=token.parent_id_tag,
        note=token.note,
        created=token.created_at,
        updated=token.updated_at,
    )


def _missing(id_tag: str) -> NotFound:
    return NotFound(f"No ID token '{id_tag}' for this API key")


async def create(rt: Runtime, operator_id: int, request: TokenCreate) -> TokenView:
    now = utcnow()
    token = IdToken(
        operator_id=operator_id,
        staging=request.staging,
        id_tag=request.id_tag,
        id_tag_folded=fold(request.id_tag),
        type=request.type,
        status=request.status,
        expires_at=request.expires_at,
        parent_id_tag=request.parent_id_tag,
        note=request.note,
        created_at=now,
        updated_at=now,
    )
    async with rt.sessions() as session, session.begin():
        if not await token_store.add(session, token):
            raise Conflict(
                f"ID token '{request.id_tag}' exists already (tokens are compared without "
                "regard to letter case): PATCH it instead"
            )
        await _follow(rt, session, token, None, token.status)
    _wake(rt, token)
    return token_view(token)


async def get(rt: Runtime, operator_id: int, id_tag: str, staging: bool) -> TokenView:
    async with rt.reads() as session:
        token = await token_store.find(session, operator_id, staging, id_tag)
    if token is None:
        raise _missing(id_tag)
    return token_view(token)


async def modify(rt: Runtime, operator_id: int, id_tag: str, patch: TokenPatch) -> TokenView:
    async with rt.sessions() as session, session.begin():
        token = await token_store.find(session, operator_id, patch.staging, id_tag)
        if token is None:
            raise _missing(id_tag)
        was = token.status
        if patch.status is not None:
            token.status = patch.status
        if "expires" in patch.changed:
            token.expires_at = patch.expires_at
        if "parent_id_tag" in patch.changed:
            token.parent_id_tag = patch.parent_id_tag
        if "note" in patch.changed:
            token.note = patch.note
        token.updated_at = utcnow()
        await _follow(rt, session, token, was, token.status)
    _wake(rt, token)
    return token_view(token)


async def remove(rt: Runtime, operator_id: int, id_tag: str, staging: bool) -> None:
    async with rt.sessions() as session, session.begin():
        token = await token_store.remove(session, operator_id, staging, id_tag)
        if token is None:
            raise _missing(id_tag)
        await _follow(rt, session, token, token.status, None)
    _wake(rt, token)


async def _follow(
    rt: Runtime,
    session: AsyncSession,
    token: IdToken,
    was: TokenStatus | None,
    now_is: TokenStatus | None,
) -> None:
    """What a production card's change (`was` None: added; `now_is` None: removed) does beyond
    the registry, in its transaction: the operator's settings on blocked cards, and the
    chargers' local lists."""
    if token.staging:
        return
    if was is not None:
        change = token_blocks.StatusChange(token.id_tag, was, now_is)
        await token_blocks.tokens_changed(
            session, rt.settings, token.operator_id, [change], utcnow()
        )
    await local_lists.tokens_changed(session, token.operator_id)


def _wake(rt: Runtime, token: IdToken) -> None:
    # A sandbox card queues nothing for any charger (see _follow): waking would cost every
    # node a look at the outbox for nothing.
    if token.staging:
        return
    # After the commit: woken before it, the dispatcher could find nothing yet.
    rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)


async def list_tokens(
    rt: Runtime, operator_id: int, request: TokensRequest
) -> Listing[IdToken, TokenView, TokenMark]:
    async def rows(
        session: AsyncSession, after: TokenMark | None, through: TokenMark | None, size: int
    ) -> list[IdToken]:
        return list(await token_store.listed(session, operator_id, request, size, after, through))

    keyset = Keyset(
        rows=rows,
        page_end=partial(token_store.page_end, operator_id=operator_id, request=request),
        mark=lambda token: TokenMark(token.id_tag_folded),
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, token_view)
