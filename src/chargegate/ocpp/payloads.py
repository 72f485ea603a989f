"""Reading values out of charger payloads that the JSON schemas alone do not check."""

from __future__ import annotations

from datetime import datetime

from chargegate.domain.times import parse_ocpp
from chargegate.ocpp.rpc import InvalidPayload


def timestamp(value: str) -> datetime:
    try:
        return parse_ocpp(value)
    except ValueError:
        raise InvalidPayload(f"timestamp {value!r} is not an ISO 8601 date-time") from None
