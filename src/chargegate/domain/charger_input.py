"""What a charger sends, made fit to store: text every database column takes, and meter readings
the meter columns hold. A value that cannot be stored must not get as far as a write, where it
would fail that write and every retry of it."""

from __future__ import annotations

import math
import re
from enum import StrEnum

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# A lone surrogate is not Unicode text (no driver encodes it as UTF-8) and PostgreSQL text cannot
# hold NUL. A surrogate left in a decoded JSON string is always a lone one: the parser joins pairs.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Also the C0 controls and DEL: no identifier or reference a client sends needs them.
_CONTROL_OR_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")

# The integers our Integer columns hold (32 bits on PostgreSQL), which is also OCPP 2.0.1's
# "integer" (Part 2: 32 bit).
INT32 = range(-(2**31), 2**31)
# Powers of ten a meter reading may carry (2.0.1 unitOfMeasure.multiplier): more than any meter
# needs, and 10 ** multiplier stays cheap (2147483647 would take hours).
MULTIPLIERS = range(-9, 10)


def is_plain_text(text: str) -> bool:
    """Whether `text` has no control character, NUL or lone surrogate, so any text column takes
    it as it is."""
    return _CONTROL_OR_UNSTORABLE.search(text) is None


def storable_text(text: str, limit: int | None = None) -> str:
    """`text` with lone surrogates and NULs replaced by U+FFFD (so the length, which the OCPP
    schemas bound, is kept), and cut to `limit` characters if given."""
    if limit is not None:
        text = text[:limit]
    return _UNSTORABLE.sub(REPLACEMENT, text)


class SkippedReading(StrEnum):
    """Why a meter reading is not stored (the metric label)."""

    UNPARSEABLE = "unparseable"
    NON_FINITE = "non_finite"
    MULTIPLIER = "multiplier"
    OUT_OF_RANGE = "out_of_range"


def reading_wh(value: object, multiplier: object = 0, unit: object = "Wh") -> int | SkippedReading:
    """An energy reading in Wh, or why it cannot be one: `value` as a charger sends it (1.6: a
    string; 2.0.1: a number, which JSON's NaN and Infinity tokens make non-finite), times ten to
    `multiplier`, in Wh or kWh."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return SkippedReading.UNPARSEABLE
    try:
        number = float(value)
    except ValueError:
        return SkippedReading.UNPARSEABLE
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        return SkippedReading.OUT_OF_RANGE
    if not math.isfinite(number):
        return SkippedReading.NON_FINITE
    if type(multiplier) is not int or multiplier not in MULTIPLIERS:  # a bool is no multiplier
        return SkippedReading.MULTIPLIER
    wh = number * 10.0**multiplier * (1000 if unit == "kWh" else 1)
    if not math.isfinite(wh):  # finite, and then scaled beyond any float
        return SkippedReading.OUT_OF_RANGE
    rounded = round(wh)
    return rounded if rounded in INT32 else SkippedReading.OUT_OF_RANGE
