"""What changing a card in the registry does beyond the registry, by the operator's settings:
the running sessions of a card it blocks are stopped (blocked_sessions = stop), and its online
chargers are told to clear their authorization caches (clear_cache_on_block), where a card
they once heard Accepted would otherwise go on starting sessions without asking us."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.config import Settings
from chargegate.domain.settings import BlockedSessions
from chargegate.domain.states import ChargerAction
from chargegate.domain.tokens import TokenStatus
from chargegate.services import stops
from chargegate.store import chargers as charger_store
from chargegate.store import commands as command_store
from chargegate.store import live_sessions
from chargegate.store import operators as operator_store
from chargegate.store import transactions as tx_store

# The stop_reason of a session stopped because its card was blocked.
BLOCKED = "blocked"
# A card in these states no longer starts a session: a cache that says otherwise is stale.
_UNUSABLE = (TokenStatus.BLOCKED, TokenStatus.EXPIRED)


async def token_changed(
    session: AsyncSession,
    settings: Settings,
    operator_id: int,
    id_tag: str,
    was: TokenStatus,
    now_is: TokenStatus | None,
    now: datetime,
) -> bool:
    """A production card went from `was` to `now_is` (None: deleted), in the caller's database
    transaction. Returns whether commands went into the outbox (the dispatcher is to be woken)."""
    operator = await operator_store.operator(session, operator_id)
    queued = False
    newly = now_is if now_is is not was else None
    if newly is TokenStatus.BLOCKED and operator.blocked_sessions is BlockedSessions.STOP:
        running = await live_sessions.of_token(session, operator_id, id_tag)
        await tx_store.lock_in_order(session, running)
        queued = await stops.request(session, running, BLOCKED, now, settings) > 0
    if operator.clear_cache_on_block and (now_is is None or newly in _UNUSABLE):
        for charger_id in await charger_store.online_charger_ids(session, operator_id):
            command_store.add_command(
                session, charger_id=charger_id, action=ChargerAction.CLEAR_CACHE, now=now
            )
            queued = True
    return queued
