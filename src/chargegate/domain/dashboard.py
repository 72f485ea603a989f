"""Dashboard arithmetic without I/O: time left, and energy per hour."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Delivery:
    """Energy a session delivered, and when the dashboard counts it."""

    at: datetime
    energy_wh: int


def seconds_left(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return max(0, int((expires_at - now).total_seconds()))


def hour_starts(now: datetime, hours: int = 24) -> list[datetime]:
    """The starts of the last `hours` clock hours, oldest first, the current one last."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=n) for n in range(hours - 1, -1, -1)]


def energy_per_hour(
    deliveries: Iterable[Delivery], now: datetime, hours: int = 24
) -> list[tuple[datetime, int]]:
    """Wh per clock hour for the last `hours` hours (oldest first, empty hours as 0).

    A session's energy is counted in the hour it ended (or, while open, the current hour): the
    meter values in between are not kept per hour, so a long session shows as one bar."""
    starts = hour_starts(now, hours)
    totals = dict.fromkeys(starts, 0)
    for delivery in deliveries:
        hour = delivery.at.replace(minute=0, second=0, microsecond=0)
        if hour in totals:
            totals[hour] += max(0, delivery.energy_wh)
    return [(start, totals[start]) for start in starts]
