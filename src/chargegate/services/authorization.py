"""What a charger is told about a token it presents: our own generated idTags (API starts) are
accepted as before; every other token is answered from its operator's registry."""

from __future__ import annotations

from collections.abc import Callable

from chargegate.domain.states import TransactionOrigin, TransactionState
from chargegate.domain.times import utcnow
from chargegate.domain.tokens import (
    ACCEPTED,
    INVALID,
    Authorization,
    UnknownTokens,
    verdict,
)
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import id_tokens as token_store
from chargegate.store import operators as operator_store
from chargegate.store import transactions as tx_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Transaction

# Chargers only ever read the production registry.
_PRODUCTION = False
# States in which an idTag we generated is valid for Authorize.
_LIVE = (TransactionState.PENDING, TransactionState.OPEN)


async def authorize(rt: Runtime, charge_point_id: str, id_tag: str) -> Authorization:
    """1.6 Authorize, 2.0.1 Authorize: an idTag we handed out is valid while its session lives."""
    return await _answer(rt, charge_point_id, id_tag, lambda tx: tx.state in _LIVE)


async def at_start(rt: Runtime, charge_point_id: str, id_tag: str, ours: bool) -> Authorization:
    """A reported start: accepted when it is the start we asked for, else as the card says."""
    return ACCEPTED if ours else await from_registry(rt, charge_point_id, id_tag)


async def at_stop(rt: Runtime, charge_point_id: str, id_tag: str) -> Authorization:
    """The idTagInfo of a stop: an idTag we generated stays accepted after its session ended."""
    return await _answer(rt, charge_point_id, id_tag, lambda tx: True)


async def from_registry(rt: Runtime, charge_point_id: str, id_tag: str) -> Authorization:
    async with rt.reads() as session:
        charger = await charger_store.registered(session, charge_point_id)
        return await _registry(session, charger.operator_id, id_tag)


async def _answer(
    rt: Runtime, charge_point_id: str, id_tag: str, accepts: Callable[[Transaction], bool]
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
        return await _registry(session, charger.operator_id, id_tag)


async def _registry(session: AsyncSession, operator_id: int, id_tag: str) -> Authorization:
    token = await token_store.find(session, operator_id, _PRODUCTION, id_tag)
    if token is None:
        policy = await operator_store.unknown_tokens(session, operator_id)
        return ACCEPTED if policy is UnknownTokens.ACCEPT else INVALID
    parent = None
    if token.parent_id_tag is not None:
        parent = await token_store.find(session, operator_id, _PRODUCTION, token.parent_id_tag)
    return Authorization(
        verdict=verdict(token.status, token.expires_at, utcnow()),
        expires_at=token.expires_at,
        parent_id_tag=token.parent_id_tag,
        parent_type=None if parent is None else parent.type,
    )
