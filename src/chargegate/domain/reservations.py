"""Reservations: what the API takes to hold a port (or a charger) for a token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chargegate.domain.cursors import RowMark
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.identity import InvalidChargePointId, check_charge_point_id
from chargegate.domain.local_lists import OCPP16_SUBPROTOCOL, tag_max
from chargegate.domain.states import ReservationState
from chargegate.domain.times import format_api
from chargegate.domain.tokens import parse_id_tag
from chargegate.domain.validation import (
    parse_expires,
    parse_limit,
    parse_staging,
    parse_uuid,
    reject_unknown,
)

# A reservation holds a port others may want: for a day at most.
MAX_AHEAD = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ReservationCreate:
    """Exactly one of port_uuid and charge_point_id (the charger as a whole) is set."""

    port_uuid: str | None
    charge_point_id: str | None
    id_tag: str
    parent_id_tag: str | None
    expires: datetime
    staging: bool


@dataclass(frozen=True, slots=True)
class ReservationsRequest:
    staging: bool
    limit: int = 0
    after: RowMark | None = None
    port_uuid: str | None = None
    state: ReservationState | None = None


def parse_reservation_create(body: Mapping[str, object], now: datetime) -> ReservationCreate:
    reject_unknown(
        body, ("port_uuid", "charge_point_id", "id_tag", "parent_id_tag", "expires", "stg")
    )
    missing = [name for name in ("id_tag", "expires") if body.get(name) is None]
    if missing:
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    port, charger = body.get("port_uuid"), body.get("charge_point_id")
    if (port is None) == (charger is None):
        raise InvalidArgument(
            "Send either port_uuid (reserve a port) or charge_point_id (reserve any port of the "
            "charger), not both"
        )
    expires = parse_expires(body["expires"], now)
    if expires > now + MAX_AHEAD:
        raise InvalidArgument(
            f"expires must be at most {MAX_AHEAD.total_seconds() / 3600:g} hours ahead "
            f"(before {format_api(now + MAX_AHEAD)} UTC)"
        )
    parent = body.get("parent_id_tag")
    return ReservationCreate(
        port_uuid=None if port is None else parse_uuid(port, "port_uuid"),
        charge_point_id=None if charger is None else _charge_point_id(charger),
        id_tag=parse_id_tag(body["id_tag"]),
        parent_id_tag=None if parent is None else parse_id_tag(parent, "parent_id_tag"),
        expires=expires,
        staging=parse_staging(body),
    )


def check_tokens_fit(request: ReservationCreate, subprotocol: str | None) -> None:
    """A 1.6 ReserveNow carries idTag and parentIdTag as CiString20 (2.0.1: CiString36, as the
    API takes them): a longer token would only fail at the charger."""
    longest = tag_max(subprotocol)
    for field, value in (("id_tag", request.id_tag), ("parent_id_tag", request.parent_id_tag)):
        if value is not None and len(value) > longest:
            raise InvalidArgument(
                f"{field} must be at most {longest} characters on this charger: it speaks "
                f"{OCPP16_SUBPROTOCOL}, whose idTag is a CiString20"
            )


def parse_reservation_patch(body: Mapping[str, object]) -> bool:
    """The only change is a cancellation; returns its stg flag."""
    reject_unknown(body, ("state", "stg"))
    state = body.get("state")
    if state is None:
        raise InvalidArgument("Missing field: state ('cancelled')")
    if state != ReservationState.CANCELLED:
        raise InvalidArgument("state can only be set to 'cancelled'")
    return parse_staging(body)


def parse_reservations(args: Mapping[str, object]) -> ReservationsRequest:
    cursor, port, state = args.get("cursor"), args.get("port_uuid"), args.get("state")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidArgument("cursor must be a string")
    if state is not None and state not in {member.value for member in ReservationState}:
        raise InvalidArgument(f"state must be one of {', '.join(ReservationState)}")
    return ReservationsRequest(
        staging=parse_staging(args),
        limit=0 if args.get("limit") is None else parse_limit(args["limit"], "a page of N"),
        after=None if cursor is None else RowMark.decode(cursor),
        port_uuid=None if port is None else parse_uuid(port, "port_uuid"),
        state=None if state is None else ReservationState(str(state)),
    )


def _charge_point_id(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("charge_point_id must be a string")
    try:
        check_charge_point_id(value)
    except InvalidChargePointId as exc:
        raise InvalidArgument(str(exc)) from None
    return value
