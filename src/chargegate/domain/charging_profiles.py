"""Charging profiles, as the API and the services name them (pure): the params of the
set_charging_profile, clear_charging_profile and get_composite_schedule commands, read from the
API's `params` (and from the outbox, which stores them as the API takes them).

A profile's purpose takes the OCPP names: ChargePointMaxProfile is 1.6's word for the limit of the
whole charger, ChargingStationMaxProfile 2.0.1's; check_version refuses the other version's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chargegate.domain import file_transfers
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.profile_values import (
    choice_of,
    limit_value,
    required,
    transaction_text,
    whole,
)

# 2.0.1 takes at most 3 periods' worth of detail per schedule at many stations, but the spec's
# own bound is the charger's ChargingScheduleMaxPeriods; 1.6 chargers often take 24 (hourly).
PERIODS_MAX = 48

# The stack levels of TxProfiles (docs/smart-charging.md): a start's own TxProfile (the fail-safe
# cut at expires, with the session's limit) is at START_STACK_LEVEL; a site balancer's above it;
# the operator's above both. Each ends at expires, so that the cut shows then. Levels of their
# own: one TxProfile replaces another of the same level and purpose.
START_STACK_LEVEL = 1
BALANCER_STACK_LEVEL = START_STACK_LEVEL + 1
TX_STACK_LEVEL_MIN = BALANCER_STACK_LEVEL + 1


class Purpose(StrEnum):
    # The whole charger's limit: 1.6 and 2.0.1 spell it differently (connector / EVSE 0 only).
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    CHARGING_STATION_MAX = "ChargingStationMaxProfile"
    # The default for transactions on a port (or on every port, at port 0).
    TX_DEFAULT = "TxDefaultProfile"
    # One transaction's own profile, replacing TxDefault while it runs.
    TX = "TxProfile"


class Kind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class Recurrency(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(StrEnum):
    AMPS = "A"
    WATTS = "W"


@dataclass(frozen=True, slots=True)
class Period:
    # Seconds from the start of the schedule.
    start_s: int
    limit: float
    # Phases the EV may use (OCPP's default when absent: 3).
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingLimit:
    """A constant limit, the simplest profile: what a load balancer or an API start sets."""

    unit: RateUnit
    value: float


@dataclass(frozen=True, slots=True)
class SetProfileParams:
    """One profile for a port (0: the whole charger)."""

    purpose: Purpose
    unit: RateUnit
    periods: tuple[Period, ...]
    port: int = 0
    stack_level: int = 0
    # The OCPP chargingProfileId; absent: the command's own id (unique among ours).
    profile_id: int | None = None
    kind: Kind = Kind.ABSOLUTE
    recurrency: Recurrency | None = None
    # Absolute: absent means from when the charger takes it. Recurring: required.
    start_schedule: datetime | None = None
    duration_s: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    # TxProfile: the transaction as the charger knows it (1.6: our integer id; 2.0.1: the
    # charger's), filled in by the services from the port's open transaction.
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClearProfileParams:
    """Which profiles to clear: by id, or by all of the criteria given (none: every one)."""

    profile_id: int | None = None
    port: int | None = None
    purpose: Purpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class CompositeParams:
    """The charger's own schedule for a port (0: the whole charger) over the next duration_s."""

    duration_s: int
    port: int = 0
    unit: RateUnit | None = None


SET_PARAMS = (
    "purpose",
    "unit",
    "limit",
    "periods",
    "port",
    "stack_level",
    "profile_id",
    "kind",
    "recurrency",
    "start_schedule",
    "duration_s",
    "valid_from",
    "valid_to",
    "transaction_id",
)
CLEAR_PARAMS = ("profile_id", "port", "purpose", "stack_level")
COMPOSITE_PARAMS = ("duration_s", "port", "unit")


def constant(
    limit: ChargingLimit, purpose: Purpose, port: int = 0, stack_level: int = 0
) -> SetProfileParams:
    """A profile holding one limit from now on."""
    return SetProfileParams(
        purpose=purpose,
        unit=limit.unit,
        periods=(Period(0, limit.value),),
        port=port,
        stack_level=stack_level,
    )


def start_limit(body: Mapping[str, object]) -> ChargingLimit | None:
    """A start's optional max_current_a or max_power_w (not both)."""
    current, power = body.get("max_current_a"), body.get("max_power_w")
    if current is not None and power is not None:
        raise InvalidArgument("Send max_current_a or max_power_w, not both")
    if current is None and power is None:
        return None
    name, unit = ("max_current_a", RateUnit.AMPS)
    if power is not None:
        name, unit = ("max_power_w", RateUnit.WATTS)
    value = limit_value(current if power is None else power, name)
    if value <= 0:
        raise InvalidArgument(f"{name} must be more than 0 (a session that may not charge)")
    return ChargingLimit(unit, value)


def check_operators(params: SetProfileParams) -> None:
    """An operator's TxProfile goes above chargegate's own (the start's, a site balancer's)."""
    if params.purpose is Purpose.TX and params.stack_level < TX_STACK_LEVEL_MIN:
        raise InvalidArgument(
            f"A TxProfile's stack_level is {TX_STACK_LEVEL_MIN} or more: level "
            f"{START_STACK_LEVEL} holds the start's own profile (its fail-safe cut at expires), "
            f"level {BALANCER_STACK_LEVEL} a site balancer's"
        )


def parse_set(raw: Mapping[str, object]) -> SetProfileParams:
    if ("limit" in raw) == ("periods" in raw):
        raise InvalidArgument("Give either limit (one value from the start) or periods")
    periods = (
        (Period(0, limit_value(raw.get("limit"), "limit")),)
        if "limit" in raw
        else _periods(raw.get("periods"))
    )
    kind = choice_of(raw, "kind", Kind) or Kind.ABSOLUTE
    recurrency = choice_of(raw, "recurrency", Recurrency)
    start = file_transfers.optional_time(raw, "start_schedule")
    if (kind is Kind.RECURRING) != (recurrency is not None):
        raise InvalidArgument("recurrency is given with kind Recurring, and only then")
    if kind is Kind.RECURRING and start is None:
        raise InvalidArgument("A Recurring profile needs its start_schedule")
    if kind is Kind.RELATIVE and start is not None:
        raise InvalidArgument("A Relative profile starts with charging: no start_schedule")
    purpose = required(choice_of(raw, "purpose", Purpose), "purpose", Purpose)
    stack_level = whole(raw, "stack_level", 0)
    if stack_level is None:
        stack_level = TX_STACK_LEVEL_MIN if purpose is Purpose.TX else 0
    params = SetProfileParams(
        purpose=purpose,
        unit=required(choice_of(raw, "unit", RateUnit), "unit", RateUnit),
        periods=periods,
        port=whole(raw, "port", 0) or 0,
        stack_level=stack_level,
        profile_id=whole(raw, "profile_id", 1),
        kind=kind,
        recurrency=recurrency,
        start_schedule=start,
        duration_s=whole(raw, "duration_s", 1),
        valid_from=file_transfers.optional_time(raw, "valid_from"),
        valid_to=file_transfers.optional_time(raw, "valid_to"),
        transaction_id=transaction_text(raw.get("transaction_id")),
    )
    return _check_set(params)


def _check_set(params: SetProfileParams) -> SetProfileParams:
    if params.purpose in (Purpose.CHARGE_POINT_MAX, Purpose.CHARGING_STATION_MAX):
        if params.port != 0:
            raise InvalidArgument(f"A {params.purpose} is for the whole charger: port 0")
    elif params.purpose is Purpose.TX and params.port == 0:
        raise InvalidArgument("A TxProfile is for a port's transaction: port 1 or more")
    if params.purpose is not Purpose.TX and params.transaction_id is not None:
        raise InvalidArgument("transaction_id is for a TxProfile only")
    if (
        params.valid_from is not None
        and params.valid_to is not None
        and params.valid_from >= params.valid_to
    ):
        raise InvalidArgument("valid_from must come before valid_to")
    return params


def parse_clear(raw: Mapping[str, object]) -> ClearProfileParams:
    return ClearProfileParams(
        profile_id=whole(raw, "profile_id", 1),
        port=whole(raw, "port", 0),
        purpose=choice_of(raw, "purpose", Purpose),
        stack_level=whole(raw, "stack_level", 0),
    )


def parse_composite(raw: Mapping[str, object]) -> CompositeParams:
    return CompositeParams(
        duration_s=required(whole(raw, "duration_s", 1), "duration_s", None),
        port=whole(raw, "port", 0) or 0,
        unit=choice_of(raw, "unit", RateUnit),
    )


def refusal(purpose: Purpose | None, transaction_id: str | None, v16: bool) -> str | None:
    """Why a profile's purpose (or transaction) does not map to this OCPP version (None: it
    does)."""
    if (
        v16
        and transaction_id is not None
        and not (transaction_id.isascii() and transaction_id.isdigit())
    ):
        return "transaction_id is a number in 1.6 (chargegate's transactionId)"
    if v16 and purpose is Purpose.CHARGING_STATION_MAX:
        return "purpose ChargingStationMaxProfile is 2.0.1's: 1.6 names it ChargePointMaxProfile"
    if not v16 and purpose is Purpose.CHARGE_POINT_MAX:
        return "purpose ChargePointMaxProfile is 1.6's: 2.0.1 names it ChargingStationMaxProfile"
    return None


def _periods(value: object) -> tuple[Period, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= PERIODS_MAX:
        raise InvalidArgument(f"periods must be a list of 1 to {PERIODS_MAX} periods")
    periods: list[Period] = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"start_s", "limit", "phases"}:
            raise InvalidArgument(f"periods[{index}] takes start_s, limit and phases")
        period = Period(
            start_s=required(whole(item, "start_s", 0), f"periods[{index}].start_s", None),
            limit=limit_value(item.get("limit"), f"periods[{index}].limit"),
            phases=whole(item, "phases", 1),
        )
        if period.phases is not None and period.phases > 3:
            raise InvalidArgument(f"periods[{index}].phases must be 1, 2 or 3")
        if periods and period.start_s <= periods[-1].start_s:
            raise InvalidArgument("periods must be in order of start_s, each starting later")
        periods.append(period)
    if periods[0].start_s != 0:
        raise InvalidArgument("The first period starts the schedule: start_s 0")
    return tuple(periods)
