"""The fail-safe TxProfile: full current until `expires`, then 0 A, so the charger stops
delivering energy at the expiry even when we cannot reach it."""

from __future__ import annotations

from chargegate.domain.times import format_ocpp
from chargegate.ocpp.rpc import Payload
from chargegate.services.dispatcher import Order

STACK_LEVEL = 1


def schedule(order: Order) -> tuple[str, list[Payload]]:
    """(startSchedule, chargingSchedulePeriod) for an Absolute TxProfile starting now."""
    assert order.expires_at is not None
    seconds = max(0, int((order.expires_at - order.issued_at).total_seconds()))
    periods: list[Payload] = [{"startPeriod": 0, "limit": order.fail_safe_limit_a}]
    if seconds == 0:
        periods = []
    periods.append({"startPeriod": seconds, "limit": 0.0})
    return format_ocpp(order.issued_at), periods
