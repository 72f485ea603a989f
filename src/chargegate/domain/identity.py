"""Which charge point ids we take: the rule shared by the WebSocket handshake and the CLI."""

from __future__ import annotations

import re

from chargegate.domain.errors import ChargegateError

# OCPP 2.0.1 (and the 1.6 security whitepaper) cap a charging station's identity at 48
# characters, and our column is as wide.
CHARGE_POINT_ID_MAX = 48
# OCPP's identifierString characters, less ':' (it separates the id from the password in
# HTTP Basic auth, so an id holding one could never log in). Everything here is URL-safe.
_ALLOWED = re.compile(r"[A-Za-z0-9*\-_=+|@.]+")
RULE = (
    f"1 to {CHARGE_POINT_ID_MAX} characters from A-Z a-z 0-9 and * - _ = + | @ . "
    "(OCPP's identifierString, without ':')"
)


class InvalidChargePointId(ChargegateError, ValueError):
    """A charge point id that breaks RULE; the message says how."""


def check_charge_point_id(charge_point_id: str) -> str:
    """The id unchanged, or InvalidChargePointId saying what is wrong with it."""
    if len(charge_point_id) > CHARGE_POINT_ID_MAX:
        raise InvalidChargePointId(
            f"charge point id is {len(charge_point_id)} characters long; it must be {RULE}"
        )
    if not _ALLOWED.fullmatch(charge_point_id):
        raise InvalidChargePointId(f"charge point id {charge_point_id!r} must be {RULE}")
    return charge_point_id
