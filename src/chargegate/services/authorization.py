"""What a charger is told about a token it presents: our own generated idTags (API starts) are
accepted as before; every other token is answered from its operator's registry and policies
(domain.settings), the charger's own answer to unknown tokens first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import assert_never

from chargegate.domain.settings import ConcurrentTx
from chargegate.domain.states import TransactionOrigin, TransactionState
from chargegate.domain.times import utcnow
from chargegate.domain.tokens import (
    ACCEPTED,
    INVALID,
    Authorization,
    UnknownTokens,
    Verdict,
    verdict,
)
from chargegate.services.charger_transactions import StartAnswer
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import id_tokens as token_store
from chargegate.store import live_sessions
from chargegate.store import operators as operator_store
from chargegate.store import transactions as tx_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Charger, Operator, Transaction

# Chargers only ever read the production registry.
_PRODUCTION = False
# States in which an idTag we generated is valid for Authorize.
_LIVE = (TransactionState.PENDING, TransactionState.OPEN)


async def authorize(rt: Runtime, charge_point_id: str, id_tag: str) -> Authorization:
    """1.6 Authorize, 2.0.1 Authorize: an idTag we handed out is valid while its session lives.
    Never ConcurrentTx, which OCPP 1.6 keeps to StartTransaction: a charger also asks about the
    card that ends a session, which must stay Accepted; the start is told."""
    return await _answer(rt, charge_point_id, id_tag, lambda tx: tx.state in _LIVE, False)


async def at_start(
    rt: Runtime, charge_point_id: str, id_tag: str, answer: StartAnswer
) -> Authorization:
    """A reported start (1.6 StartTransaction, 2.0.1 TransactionEvent Started or Updated):
    accepted when it is the start we asked for, else as the card says. Only a session recorded
    before this one makes it ConcurrentTx: never the session itself (its own later events, a
    retried report), nor one that began after it."""
    if answer.accepted:
        return ACCEPTED
    async with rt.reads() as session:
        charger = await charger_store.registered(session, charge_point_id)
        return await _registry(session, charger, id_tag, True, answer.transaction_id)


async def at_stop(rt: Runtime, charge_point_id: str, id_tag: str) -> Authorization:
    """The idTagInfo of a stop: an idTag we generated stays accepted after its session ended;
    a card is answered as it is now (Blocked if blocked while charging), never ConcurrentTx."""
    return await _answer(rt, charge_point_id, id_tag, lambda tx: True, False)


async def _answer(
    rt: Runtime,
    charge_point_id: str,
    id_tag: str,
    accepts: Callable[[Transaction], bool],
    concurrency: bool,
) -> Authorization:
    """ACCEPTED for an idTag we generated for one of this charger's API starts that `accepts`
    takes; else what the registry says. One read for both."""
    async with rt.reads() as session:
        charger = await charger_store.registered(session, charge_point_id)
        generated = await tx_store.charger_transaction_by_tag(
            session, charger.id, id_tag, TransactionOrigin.API
        )
        if generated is not None and accepts(generated):
            return ACCEPTED
        return await _registry(session, charger, id_tag, concurrency)


async def _registry(
    session: AsyncSession,
    charger: Charger,
    id_tag: str,
    concurrency: bool,
    before: int | None = None,
) -> Authorization:
    """The registry's answer; with `concurrency`, an accepted card in a live session (recorded
    before session `before`, if given) is ConcurrentTx."""
    operator = await operator_store.operator(session, charger.operator_id)
    token = await token_store.find(session, operator.id, _PRODUCTION, id_tag)
    if token is None:
        policy = charger.unknown_tokens or operator.unknown_tokens
        found = ACCEPTED if policy is UnknownTokens.ACCEPT else INVALID
    else:
        parent = None
        if token.parent_id_tag is not None:
            parent = await token_store.find(session, operator.id, _PRODUCTION, token.parent_id_tag)
        found = Authorization(
            verdict=verdict(token.status, token.expires_at, utcnow()),
            expires_at=token.expires_at,
            parent_id_tag=token.parent_id_tag,
            parent_type=None if parent is None else parent.type,
        )
    if (
        concurrency
        and found.verdict is Verdict.ACCEPTED
        and await _in_use(session, operator, id_tag, found.parent_id_tag, before)
    ):
        return replace(found, verdict=Verdict.CONCURRENT_TX)
    return found


async def _in_use(
    session: AsyncSession,
    operator: Operator,
    id_tag: str,
    parent_id_tag: str | None,
    before: int | None,
) -> bool:
    policy = operator.concurrent_tx
    match policy:
        case ConcurrentTx.OFF:
            return False
        case ConcurrentTx.TOKEN:
            group = None
        case ConcurrentTx.GROUP:
            group = parent_id_tag
        case _:
            assert_never(policy)
    return await live_sessions.any_live(session, operator.id, id_tag, group, before)
