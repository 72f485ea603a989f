"""What changing a card in the registry does beyond the registry, by the operator's settings:
the running sessions of a card it blocks are stopped (blocked_sessions = stop), and its online
chargers are told to clear their authorization caches (clear_cache_on_block), where a card
they once heard Accepted would otherwise go on starting sessions without asking us."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A production card went from `was` to `now_is` (None: it was removed)."""

    id_tag: str
    was: TokenStatus
    now_is: TokenStatus | None

    @property
    def newly(self) -> TokenStatus | None:
        return self.now_is if self.now_is is not self.was else None


async def tokens_changed(
    session: AsyncSession,
    settings: Settings,
    operator_id: int,
    changes: Sequence[StatusChange],
    now: datetime,
) -> None:
    """Cards changed (one through the API, many in an import), in the caller's database
    transaction: the sessions of those newly blocked stop, and each online charger gets one
    ClearCache (unless one is still waiting to be sent) if any card can no longer start a
    session. The caller wakes the dispatcher."""
    operator = await operator_store.operator(session, operator_id)
    if operator.blocked_sessions is BlockedSessions.STOP:
        blocked = [c.id_tag for c in changes if c.newly is TokenStatus.BLOCKED]
        running = await live_sessions.of_tokens(session, operator_id, blocked)
        await tx_store.lock_in_order(session, running)
        await stops.request(session, running, BLOCKED, now, settings)
    stale = any(c.now_is is None or c.newly in _UNUSABLE for c in changes)
    if operator.clear_cache_on_block and stale:
        # A ClearCache not yet sent goes out after this change and clears it too: blocks in a
        # row queue one per charger, not one each.
        waiting = await command_store.chargers_awaiting(
            session, operator_id, ChargerAction.CLEAR_CACHE
        )
        for charger_id in await charger_store.online_charger_ids(session, operator_id):
            if charger_id not in waiting:
                command_store.add_command(
                    session, charger_id=charger_id, action=ChargerAction.CLEAR_CACHE, now=now
                )
