"""An operator's charger, as the API names it by charge point id."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.errors import InvalidArgument, NotFound
from chargegate.domain.identity import InvalidChargePointId, check_charge_point_id
from chargegate.store import chargers as charger_store
from chargegate.store.models import Charger


def check(charge_point_id: str) -> None:
    """400 for an id no charger can have (before it is looked up)."""
    try:
        check_charge_point_id(charge_point_id)
    except InvalidChargePointId as exc:
        raise InvalidArgument(str(exc)) from None


async def find(session: AsyncSession, operator_id: int, charge_point_id: str) -> Charger:
    """The operator's charger; another operator's is as unknown as one that does not exist."""
    charger = await charger_store.operator_charger(session, operator_id, charge_point_id)
    if charger is None:
        raise NotFound(f"Charger not found: no charger {charge_point_id} for this API key")
    return charger
