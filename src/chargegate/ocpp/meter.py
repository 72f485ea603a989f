"""Reading the energy register out of OCPP meter values (1.6 and 2.0.1 shapes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ENERGY = "Energy.Active.Import.Register"


def energy_wh(meter_values: Sequence[Mapping[str, Any]]) -> int | None:
    """The newest total (not per-phase) energy register reading in Wh, if there is one."""
    reading: int | None = None
    for meter_value in meter_values:
        for sampled in meter_value.get("sampledValue", []):
            if sampled.get("measurand", ENERGY) != ENERGY or sampled.get("phase"):
                continue
            try:
                value = float(sampled["value"])
            except (KeyError, TypeError, ValueError):
                continue
            # 1.6: "unit": "kWh"; 2.0.1: "unitOfMeasure": {"unit": "kWh", "multiplier": 0}.
            unit_of_measure = sampled.get("unitOfMeasure", {})
            unit = sampled.get("unit", unit_of_measure.get("unit", "Wh"))
            value *= 10 ** int(unit_of_measure.get("multiplier", 0))
            if unit == "kWh":
                value *= 1000
            reading = round(value)
    return reading
