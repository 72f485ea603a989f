"""The fail-safe TxProfile: full current (or the session's own limit) until `expires`, then 0,
so the charger stops delivering energy at the expiry even when we cannot reach it. Its stack
level and how it composes with the operator's profiles: docs/smart-charging.md."""

from __future__ import annotations

from datetime import datetime

from chargegate.domain.charging_profiles import START_STACK_LEVEL, RateUnit
from chargegate.domain.times import format_ocpp
from chargegate.ocpp.rpc import Payload
from chargegate.services.commands import TransactionOrder

STACK_LEVEL = START_STACK_LEVEL
# startPeriod is an OCPP integer (32 bits): 2^31-1 s is 68 years.
START_PERIOD_MAX = 2**31 - 1


def unit(transaction: TransactionOrder) -> str:
    """The schedule's chargingRateUnit: A, unless the session's limit is in W."""
    return RateUnit.AMPS if transaction.limit is None else transaction.limit.unit


def schedule(transaction: TransactionOrder, now: datetime) -> tuple[str, list[Payload]]:
    """(startSchedule, chargingSchedulePeriod) for an Absolute TxProfile starting now."""
    assert transaction.expires_at is not None
    # An expiry further away than a startPeriod can say is clamped, not refused: the profile then
    # cuts the current 68 years from now, earlier than asked and never later, so it stays a
    # safe backstop, and the API need not refuse an expiry the seed allows (any future time).
    # The stop at expiry itself is the scheduler's, and keeps the exact time.
    seconds = min(START_PERIOD_MAX, max(0, int((transaction.expires_at - now).total_seconds())))
    limit = transaction.fail_safe_limit_a if transaction.limit is None else transaction.limit.value
    periods: list[Payload] = [{"startPeriod": 0, "limit": limit}]
    if seconds == 0:
        periods = []
    periods.append({"startPeriod": seconds, "limit": 0.0})
    return format_ocpp(now), periods
