"""Time rules: everything is UTC; the API prints `YYYY-MM-DDTHH:MM:SS`, OCPP gets a `Z`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from chargegate.domain.errors import ChargegateError

API_FORMAT = "%Y-%m-%dT%H:%M:%S"


class TimeFormatError(ChargegateError, ValueError):
    """A timestamp that cannot be read, or that is not in UTC."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_utc(text: str) -> datetime:
    """Read an ISO 8601 timestamp that must be in UTC (`Z`, `+0000` or `+00:00`).

    A timestamp without a zone is refused rather than guessed: guessing is how sessions
    end an hour early for someone in another timezone.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise TimeFormatError(
            f"'{text}' is not an ISO 8601 timestamp; use e.g. 2030-01-31T20:40:00+0000"
        ) from exc
    if value.tzinfo is None:
        raise TimeFormatError(f"'{text}' has no timezone; add Z or +0000 (the time must be in UTC)")
    offset = value.utcoffset()
    if offset != timedelta(0):
        raise TimeFormatError(
            f"'{text}' is not in UTC (offset {value.strftime('%z')}); "
            "convert it to UTC and send it with Z or +0000"
        )
    return value.astimezone(UTC)


def parse_ocpp(text: str) -> datetime:
    """Read a charger's timestamp; chargers that omit the zone mean UTC (OCPP requires UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_api(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime(API_FORMAT)


class _OcppNow:
    """The time now as `format_ocpp` writes it, for the answer to every Heartbeat: the seconds'
    part is formatted once a second, only the milliseconds every call."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._text}.{int((now - second) * 1000):03d}Z"


ocpp_now = _OcppNow()


def format_ocpp(value: datetime) -> str:
    # isoformat rather than strftime: every Heartbeat's answer is one, and it costs a third.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2 base, 4 base, ... cap."""
    delay: timedelta = base * 2 ** min(max(attempts, 1) - 1, 20)
    return min(cap, delay)
