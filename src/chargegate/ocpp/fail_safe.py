"""The fail-safe TxProfile: full current until `expires`, then 0 A, so the charger stops
delivering energy at the expiry even when we cannot reach it."""

from __future__ import annotations

from datetime import datetime

from chargegate.domain.times import format_ocpp
from chargegate.ocpp.rpc import Payload
from chargegate.services.commands import TransactionOrder

STACK_LEVEL = 1
# startPeriod is an OCPP integer (32 bits): 2^31-1 s is 68 years.
START_PERIOD_MAX = 2**31 - 1


def schedule(transaction: TransactionOrder, now: datetime) -> tuple[str, list[Payload]]:
    """(startSchedule, chargingSchedulePeriod) for an Absolute TxProfile starting now."""
    assert transaction.expires_at is not None
    # An expiry further away than a startPeriod can say is clamped, not refused: the profile then
    # cuts the current 68 years from now, earlier than asked and never later, so it stays a
    # safe backstop, and the API need not refuse an expiry the seed allows (any future time).
    # The stop at expiry itself is the scheduler's, and keeps the exact time.
    seconds = min(START_PERIOD_MAX, max(0, int((transaction.expires_at - now).total_seconds())))
    periods: list[Payload] = [{"startPeriod": 0, "limit": transaction.fail_safe_limit_a}]
    if seconds == 0:
        periods = []
    periods.append({"startPeriod": seconds, "limit": 0.0})
    return format_ocpp(now), periods
