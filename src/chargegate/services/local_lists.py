"""Chargers' local authorization lists, kept in sync with their operator's production tokens.

A sync is a command in the outbox (ChargerAction.SEND_LOCAL_LIST), so it survives a crash and
goes out from the node that holds the charger's socket. One is queued when a charger that has a
list (re)connects, after each token change, and after a refusal that calls for the full list
again. It reads the tokens only when it is sent (plan): changes made while it waits are all in
it, so a burst of changes costs one sync, and the outbox sends a charger's syncs one at a time
(store.claims.claim_due)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.local_lists import (
    Capabilities,
    Entry,
    ListAnswer,
    ListState,
    Outcome,
    Plan,
    chosen,
    differences,
    tag_max,
)
from chargegate.domain.states import ChargerAction, CommandAction
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.tokens import Authorization, fold, verdict
from chargegate.domain.webhooks import EventType
from chargegate.services import operator_chargers, webhooks
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import commands as command_store
from chargegate.store import local_lists as list_store
from chargegate.store.models import Charger, IdToken, LocalList

# Full resends after Failed or VersionMismatch before the list is left failed (until the next
# token change, reconnect or forced resend): a charger that cannot take the list must not be
# sent it for ever.
MAX_RESENDS = 2
# Why a list is unsupported, when the charger said so.
NO_LIST = "The charger has no local authorization list"
_NO_LIST_AT_BOOT = f"{NO_LIST} (asked at boot)"


@dataclass(frozen=True, slots=True)
class LocalListView:
    # None until the charger has been asked (after its first boot here).
    supported: bool | None
    version: int
    charger_version: int | None
    state: ListState
    entries: int
    last_synced: datetime | None
    last_error: str | None


async def view(rt: Runtime, operator_id: int, charge_point_id: str) -> LocalListView:
    operator_chargers.check(charge_point_id)
    async with rt.reads() as session:
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        state = await session.get(LocalList, charger.id)
        if state is None:
            return LocalListView(None, 0, None, ListState.PENDING, 0, None, None)
        return await _view(session, state)


async def _view(session: AsyncSession, state: LocalList) -> LocalListView:
    return LocalListView(
        supported=state.supported,
        version=state.version,
        charger_version=state.charger_version,
        state=state.state,
        entries=await list_store.count(session, state.charger_id),
        last_synced=state.last_synced_at,
        last_error=state.last_error,
    )


def local_list_data(view: LocalListView) -> dict[str, Any]:
    """A list's state as the API shows it (and its webhook events carry it)."""
    return {
        "supported": view.supported,
        "version": view.version,
        "charger_version": view.charger_version,
        "state": view.state,
        "entries": view.entries,
        "last_synced": format_api(view.last_synced),
        "last_error": view.last_error,
    }


async def _announce(
    session: AsyncSession, charger: Charger, state: LocalList, before: ListState | None
) -> None:
    """A list that settled in another state than it was in is a local_list.changed event."""
    if state.state is before or state.state is ListState.PENDING:
        return
    await session.flush()
    data = {
        "charge_point_id": charger.charge_point_id,
        **local_list_data(await _view(session, state)),
    }
    await webhooks.emit(
        session, charger.operator_id, EventType.LOCAL_LIST_CHANGED, f"charger:{charger.id}", data
    )


async def capabilities_known(rt: Runtime, charge_point_id: str, caps: Capabilities) -> None:
    """After each boot: a charger with a list gets a sync (which asks its version first). One
    without says so at every reconnect, which is read beside the writer and costs no write."""
    found = await rt.node.lookups.charger(charge_point_id)
    if found is not None and not caps.supported:
        stored = await rt.node.lookups.local_list(found.id)
        if stored is not None and _unsupported_since_boot(stored, caps):
            return
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        known = await list_store.locked(session, charger.id)
        before = None if known is None else known.state
        state = known or list_store.added(session, charger.id)
        state.supported = caps.supported
        state.per_message, state.capacity = caps.per_message, caps.capacity
        if caps.supported:
            state.state, state.resends = ListState.PENDING, 0
            await _queue(session, charger.id, now)
        else:
            _unsupported(state, _NO_LIST_AT_BOOT)
        if before is not None:
            # Not for what a charger says at its first boot: most have no list at all.
            await _announce(session, charger, state, before)
    rt.bus.wake(Topic.DISPATCH)


async def tokens_changed(session: AsyncSession, operator_id: int) -> None:
    """A production token was added, changed or removed: each of the operator's chargers with
    a list gets a sync, unless one is waiting already."""
    now = utcnow()
    for state in await list_store.of_operator(session, operator_id):
        state.state, state.resends = ListState.PENDING, 0
        await _queue(session, state.charger_id, now)


async def resend_requested(session: AsyncSession, charger_id: int) -> None:
    """A sync asked for through the API sends the full list."""
    state = await list_store.locked(session, charger_id)
    if state is not None:
        state.full_needed, state.state, state.resends = True, ListState.PENDING, 0


async def _queue(session: AsyncSession, charger_id: int, now: datetime) -> None:
    if not await list_store.sync_waiting(session, charger_id):
        command_store.add_command(
            session, charger_id=charger_id, action=ChargerAction.SEND_LOCAL_LIST, now=now
        )


async def plan(session: AsyncSession, charge_point_id: str) -> Plan:
    """What a sync being sent now carries: the operator's tokens as this charger's full list,
    and how that differs from what it holds by our last accepted message."""
    charger = await charger_store.registered(session, charge_point_id)
    # None if asked through the API before the charger was ever probed.
    state = await list_store.locked(session, charger.id) or list_store.added(session, charger.id)
    tokens = await list_store.production_tokens(session, charger.operator_id)
    wanted = chosen(_entries(tokens, utcnow()), state.capacity, tag_max(charger.ocpp_version))
    held = await list_store.held(session, charger.id)
    return Plan(
        version=state.version,
        full=state.full_needed,
        entries=tuple(wanted),
        changes=tuple(differences(held, wanted)),
        per_message=state.per_message,
    )


def _entries(tokens: Sequence[IdToken], now: datetime) -> list[Entry]:
    types = {token.id_tag_folded: token.type for token in tokens}
    return [
        Entry(
            id_tag=token.id_tag,
            type=token.type,
            authorization=Authorization(
                verdict=verdict(token.status, token.expires_at, now),
                expires_at=token.expires_at,
                parent_id_tag=token.parent_id_tag,
                parent_type=None
                if token.parent_id_tag is None
                else types.get(fold(token.parent_id_tag)),
            ),
        )
        for token in tokens
    ]


async def answered(
    session: AsyncSession,
    charge_point_id: str,
    action: CommandAction,
    outcome: Outcome,
    now: datetime,
) -> None:
    """A sync's or a version question's outcome: what the charger holds now, and whether
    another sync is due."""
    charger = await charger_store.registered(session, charge_point_id)
    state = await list_store.locked(session, charger.id) or list_store.added(session, charger.id)
    before = state.state
    await _take(session, state, action, outcome, now)
    await _announce(session, charger, state, before)


async def _take(
    session: AsyncSession, state: LocalList, action: CommandAction, outcome: Outcome, now: datetime
) -> None:
    charger_id = state.charger_id
    if outcome.charger_version is not None:
        state.charger_version = outcome.charger_version
    for message in outcome.sent:
        if message.full:
            await list_store.clear(session, charger_id)
            state.full_needed = False
        await list_store.apply(session, charger_id, message.entries)
        state.version = state.charger_version = message.version
    if outcome.sent and not await list_store.count(session, charger_id):
        # An empty list is version 0, whatever version emptied it (1.6 GetLocalListVersion,
        # 2.0.1 D02): that is what the charger will report.
        state.version = state.charger_version = 0
    answer = outcome.answer
    if action is ChargerAction.GET_LOCAL_LIST_VERSION or answer is None:
        await _version_reported(session, state, outcome, now)
        return
    match answer:
        case ListAnswer.ACCEPTED:
            # A change made while this sync was under way has queued the next one.
            waiting = await list_store.sync_waiting(session, charger_id)
            state.state = ListState.PENDING if waiting else ListState.IN_SYNC
            state.resends, state.last_synced_at, state.last_error = 0, now, None
        case ListAnswer.FAILED | ListAnswer.VERSION_MISMATCH:
            state.full_needed = True
            state.last_error = f"The charger answered SendLocalList with {answer}"
            if state.resends < MAX_RESENDS:
                state.resends += 1
                state.state = ListState.PENDING
                await _queue(session, charger_id, now)
            else:
                state.state = ListState.FAILED
        case ListAnswer.NOT_SUPPORTED:
            _unsupported(state, f"{NO_LIST} (SendLocalList: NotSupported)")
        case _:
            assert_never(answer)


async def _version_reported(
    session: AsyncSession, state: LocalList, outcome: Outcome, now: datetime
) -> None:
    """A list the charger says is another version than ours is no longer the one we sent."""
    reported = outcome.charger_version
    if reported is not None and reported < 0:
        _unsupported(state, f"{NO_LIST} (GetLocalListVersion: {reported})")
        return
    if reported is None or not state.supported or reported == state.version:
        return
    state.state, state.full_needed = ListState.PENDING, True
    await _queue(session, state.charger_id, now)


def _unsupported_since_boot(state: LocalList, caps: Capabilities) -> bool:
    """Whether the state is what an answer `caps` without a list at boot makes of it."""
    stored = (state.supported, state.state, state.per_message, state.capacity, state.last_error)
    told = (False, ListState.UNSUPPORTED, caps.per_message, caps.capacity, _NO_LIST_AT_BOOT)
    return stored == told


def _unsupported(state: LocalList, reason: str) -> None:
    state.supported, state.state, state.last_error = False, ListState.UNSUPPORTED, reason


async def undelivered(session: AsyncSession, charge_point_id: str, reason: str) -> None:
    """A sync that never got through: failed until the next reconnect or token change."""
    charger = await charger_store.registered(session, charge_point_id)
    state = await list_store.locked(session, charger.id)
    if state is not None and state.state is ListState.PENDING:
        state.state, state.last_error = ListState.FAILED, reason
        await _announce(session, charger, state, ListState.PENDING)
