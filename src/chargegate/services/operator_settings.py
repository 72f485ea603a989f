"""/1.2/settings and /1.2/chargers/<id>/settings: the operator's token policies, and a
charger's own answer to unknown tokens (domain.settings says what each one does)."""

from __future__ import annotations

from dataclasses import dataclass

from chargegate.domain.settings import ChargerSettingsPatch, OperatorSettings, SettingsPatch
from chargegate.domain.tokens import UnknownTokens
from chargegate.services import operator_chargers
from chargegate.services.runtime import Runtime
from chargegate.store import operators as operator_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Charger, Operator


@dataclass(frozen=True, slots=True)
class ChargerSettingsView:
    charge_point_id: str
    # The charger's own policy; None: it follows its operator's.
    unknown_tokens: UnknownTokens | None
    # What the charger's unknown tokens are answered by now, its own or its operator's.
    applied_unknown_tokens: UnknownTokens


def _view(operator: Operator) -> OperatorSettings:
    return OperatorSettings(
        unknown_tokens=operator.unknown_tokens,
        concurrent_tx=operator.concurrent_tx,
        blocked_sessions=operator.blocked_sessions,
        clear_cache_on_block=operator.clear_cache_on_block,
    )


async def get(rt: Runtime, operator_id: int) -> OperatorSettings:
    async with rt.reads() as session:
        return _view(await operator_store.operator(session, operator_id))


async def change(rt: Runtime, operator_id: int, patch: SettingsPatch) -> OperatorSettings:
    async with rt.sessions() as session, session.begin():
        operator = await operator_store.operator(session, operator_id, for_update=True)
        if patch.unknown_tokens is not None:
            operator.unknown_tokens = patch.unknown_tokens
        if patch.concurrent_tx is not None:
            operator.concurrent_tx = patch.concurrent_tx
        if patch.blocked_sessions is not None:
            operator.blocked_sessions = patch.blocked_sessions
        if patch.clear_cache_on_block is not None:
            operator.clear_cache_on_block = patch.clear_cache_on_block
        return _view(operator)


async def charger_settings(
    rt: Runtime, operator_id: int, charge_point_id: str
) -> ChargerSettingsView:
    async with rt.reads() as session:
        charger = await _charger(session, operator_id, charge_point_id)
        return await _charger_view(session, charger)


async def change_charger(
    rt: Runtime, operator_id: int, charge_point_id: str, patch: ChargerSettingsPatch
) -> ChargerSettingsView:
    async with rt.sessions() as session, session.begin():
        charger = await _charger(session, operator_id, charge_point_id)
        charger.unknown_tokens = patch.unknown_tokens
        return await _charger_view(session, charger)


async def _charger(session: AsyncSession, operator_id: int, charge_point_id: str) -> Charger:
    operator_chargers.check(charge_point_id)
    return await operator_chargers.find(session, operator_id, charge_point_id)


async def _charger_view(session: AsyncSession, charger: Charger) -> ChargerSettingsView:
    operator = await operator_store.operator(session, charger.operator_id)
    return ChargerSettingsView(
        charge_point_id=charger.charge_point_id,
        unknown_tokens=charger.unknown_tokens,
        applied_unknown_tokens=charger.unknown_tokens or operator.unknown_tokens,
    )
