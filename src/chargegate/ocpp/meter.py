"""Reading the energy register out of OCPP meter values (1.6 and 2.0.1 shapes).

A reading that cannot be stored (NaN, Infinity, a multiplier of 2147483647, more Wh than a meter
column holds) is counted and, in a message that starts, updates or ends a transaction, skipped:
refusing the message would keep the start or stop from being recorded, and the charger would
resend it. A MeterValues message carries nothing but readings, and is refused instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from chargegate.domain.charger_input import SkippedReading, reading_wh
from chargegate.domain.errors import UnusableReading
from chargegate.domain.sites import Draw
from chargegate.metrics import METER_READINGS_SKIPPED

ENERGY = "Energy.Active.Import.Register"
# The fields of CALLs that hold meter readings: values in them out of range are skipped here
# rather than refused with a CALLERROR (ocpp.incoming).
METER_FIELDS = frozenset({"meterStart", "meterStop", "meterValue", "transactionData"})

for _why in SkippedReading:  # every label from the start, so that rate() sees the first one
    METER_READINGS_SKIPPED.labels(_why.value)


def energy_wh(meter_values: Sequence[Mapping[str, Any]], *, refuse: bool = False) -> int | None:
    """The newest usable total (not per-phase) energy register reading in Wh, if there is one.
    With `refuse`, an unusable one raises UnusableReading instead of being skipped."""
    reading: int | None = None
    for meter_value in meter_values:
        for sampled in meter_value.get("sampledValue", []):
            if sampled.get("measurand", ENERGY) != ENERGY or sampled.get("phase"):
                continue
            # 1.6: "unit": "kWh"; 2.0.1: "unitOfMeasure": {"unit": "kWh", "multiplier": 0}.
            unit_of_measure = sampled.get("unitOfMeasure", {})
            unit = sampled.get("unit", unit_of_measure.get("unit", "Wh"))
            value = sampled.get("value")
            found = reading_wh(value, unit_of_measure.get("multiplier", 0), unit)
            usable = _counted(found)
            if refuse and isinstance(found, SkippedReading):
                raise UnusableReading(f"energy reading {value!r} {_unusable(found)}")
            if usable is not None:
                reading = usable
    return reading


def register_wh(value: int) -> int | None:
    """A 1.6 meterStart or meterStop, if a meter column holds it."""
    return _counted(reading_wh(value))


def _unusable(why: SkippedReading) -> str:
    match why:
        case SkippedReading.UNPARSEABLE:
            return "is not a number"
        case SkippedReading.NON_FINITE:
            return "is not a finite number"
        case SkippedReading.MULTIPLIER:
            return "has a multiplier outside -9..9"
        case SkippedReading.OUT_OF_RANGE:
            return "is beyond what a meter register holds"
        case _:
            assert_never(why)


def _counted(reading: int | SkippedReading) -> int | None:
    if isinstance(reading, SkippedReading):
        METER_READINGS_SKIPPED.labels(reading.value).inc()
        return None
    return reading


CURRENT = "Current.Import"
POWER = "Power.Active.Import"
# Beyond any charger: a reading past these is a broken meter, and not kept.
_DRAW_MAX = {CURRENT: 10_000.0, POWER: 10_000_000.0}


def draw(meter_values: Sequence[Mapping[str, Any]]) -> Draw | None:
    """Current.Import (A per phase: the highest phase when only phases are given) and
    Power.Active.Import (W, all phases), from the newest readings that say them; unusable
    values are left out (they never refuse a message)."""
    found: dict[str, float] = {}
    for meter_value in meter_values:
        phases: dict[str, list[float]] = {CURRENT: [], POWER: []}
        totals: dict[str, float] = {}
        for sampled in meter_value.get("sampledValue", []):
            measurand = sampled.get("measurand")
            if measurand not in _DRAW_MAX:
                continue
            value = _draw_value(sampled, measurand)
            if value is None:
                continue
            if sampled.get("phase"):
                phases[measurand].append(value)
            else:
                totals[measurand] = value
        if CURRENT not in totals and phases[CURRENT]:
            totals[CURRENT] = max(phases[CURRENT])
        if POWER not in totals and phases[POWER]:
            totals[POWER] = sum(phases[POWER])
        found.update(totals)
    if not found:
        return None
    return Draw(current_a=found.get(CURRENT), power_w=found.get(POWER))


def _draw_value(sampled: Mapping[str, Any], measurand: str) -> float | None:
    unit_of_measure = sampled.get("unitOfMeasure", {})
    unit = sampled.get("unit", unit_of_measure.get("unit"))
    multiplier = unit_of_measure.get("multiplier", 0)
    try:
        value = float(str(sampled.get("value"))) * 10 ** int(multiplier)
    except (TypeError, ValueError, OverflowError):
        return None
    if unit == "kW":
        value *= 1000
    if not math.isfinite(value) or not 0 <= value <= _DRAW_MAX[measurand]:
        return None
    return float(round(value, 1))
