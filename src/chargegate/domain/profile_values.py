"""Reading the values of charging profile params (domain.charging_profiles): numbers, limits,
choices, each refused with an InvalidArgument that names the param."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from chargegate.domain.errors import InvalidArgument

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

# An OCPP integer: ids, stack levels, seconds.
INT_MAX = 2**31 - 1
# A limit no charger has: 1 MA or 1 GW would still fit; this bounds typos, not hardware.
LIMIT_MAX = 10_000_000.0


def limit_value(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 <= value <= LIMIT_MAX)
    ):
        raise InvalidArgument(f"{name} must be a number from 0 to {LIMIT_MAX:g}")
    # OCPP limits carry one decimal.
    return round(float(value), 1)


def whole(raw: Mapping[str, object], name: str, minimum: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= INT_MAX:
        raise InvalidArgument(f"{name} must be a whole number of at least {minimum}")
    return value


def transaction_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 36:
        raise InvalidArgument("transaction_id must be text of 1 to 36 characters")
    return value


def choice_of(raw: Mapping[str, object], name: str, kind: type[E]) -> E | None:
    value = raw.get(name)
    if value is None:
        return None
    members = {member.value: member for member in kind}
    if not isinstance(value, str) or value not in members:
        raise InvalidArgument(f"{name} must be one of: {', '.join(members)}")
    return members[value]


def required(value: T | None, name: str, kind: type[StrEnum] | None) -> T:
    if value is None:
        named = "" if kind is None else f" (one of: {', '.join(member.value for member in kind)})"
        raise InvalidArgument(f"Missing param: {name}{named}")
    return value
