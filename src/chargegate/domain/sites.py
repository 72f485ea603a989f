"""Reading the API's requests about sites and circuits (the limits domain.balancer shares)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.fleet import check_id, parse_webhooks
from chargegate.domain.validation import parse_uuid, reject_unknown

NAME_MAX = 100
# Beyond any grid connection a CSMS manages (a 10 kA, 7 MW feed): a typo, not a site.
CURRENT_MAX_A = 10_000
POWER_MAX_W = 7_000_000
VOLTAGES = (100, 400)
MEMBERS_MAX = 1000
# A page of sites is a page of rows by id, newest first, like a page of webhooks.
parse_sites = parse_webhooks


@dataclass(frozen=True, slots=True)
class Draw:
    """What a session draws now, as its charger's newest MeterValues say (None: not said)."""

    current_a: float | None = None
    power_w: float | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """Exactly one of the two is set."""

    max_current_a: float | None
    max_power_w: float | None


@dataclass(frozen=True, slots=True)
class Members:
    """Chargers (all their ports) and single ports under a circuit."""

    charge_point_ids: tuple[str, ...]
    port_uuids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteCreate:
    name: str
    limit: Limit
    phases: int
    voltage: int
    parent_uuid: str | None
    members: Members


@dataclass(frozen=True, slots=True)
class SitePatch:
    """The fields sent; None: unchanged. Members replace the circuit's members."""

    name: str | None = None
    limit: Limit | None = None
    phases: int | None = None
    voltage: int | None = None
    members: Members | None = None


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        raise InvalidArgument(f"name must be a non-empty string of at most {NAME_MAX} characters")
    if not is_plain_text(value):
        raise InvalidArgument("name must not hold control characters")
    return value


def _number(body: Mapping[str, object], name: str, most: int) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a number")
    if not 0 <= value <= most:
        raise InvalidArgument(f"{name} must be between 0 and {most}")
    # The balancer works in 0.1 A (and whole W): finer is noise.
    return round(float(value), 1)


def _limit(body: Mapping[str, object]) -> Limit | None:
    has_current = body.get("max_current_a") is not None
    has_power = body.get("max_power_w") is not None
    if has_current and has_power:
        raise InvalidArgument("Send either max_current_a or max_power_w, not both")
    if has_current:
        return Limit(_number(body, "max_current_a", CURRENT_MAX_A), None)
    if has_power:
        return Limit(None, float(round(_number(body, "max_power_w", POWER_MAX_W))))
    return None


def _integer(body: Mapping[str, object], name: str, allowed: range) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise InvalidArgument(
            f"{name} must be an integer from {allowed.start} to {allowed.stop - 1}"
        )
    return value


def _voltage(body: Mapping[str, object]) -> int:
    return _integer(body, "voltage", range(*VOLTAGES))


def parse_phases(body: Mapping[str, object]) -> int:
    if body["phases"] not in (1, 3) or isinstance(body["phases"], bool):
        raise InvalidArgument("phases must be 1 or 3")
    return 3 if body["phases"] == 3 else 1


def _members(body: Mapping[str, object]) -> Members:
    chargers, ports = body.get("chargers", []), body.get("ports", [])
    if not isinstance(chargers, list) or not isinstance(ports, list):
        raise InvalidArgument("chargers and ports must be arrays")
    if len(chargers) + len(ports) > MEMBERS_MAX:
        raise InvalidArgument(f"at most {MEMBERS_MAX} chargers and ports per circuit")
    ids = []
    for charger in chargers:
        if not isinstance(charger, str):
            raise InvalidArgument("chargers must hold charge point ids (strings)")
        ids.append(check_id(charger))
    uuids = [parse_uuid(port, "ports[]") for port in ports]
    if len(set(ids)) < len(ids) or len(set(uuids)) < len(uuids):
        raise InvalidArgument("a charger or port is named twice")
    return Members(tuple(ids), tuple(uuids))


_FIELDS = ("name", "max_current_a", "max_power_w", "phases", "voltage", "chargers", "ports")


def parse_site_create(body: Mapping[str, object]) -> SiteCreate:
    reject_unknown(body, (*_FIELDS, "parent_uuid"))
    missing = [name for name in ("name", "phases") if body.get(name) is None]
    limit = _limit(body)
    if limit is None:
        missing.append("max_current_a or max_power_w")
    if missing:
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    assert limit is not None
    parent = body.get("parent_uuid")
    return SiteCreate(
        name=_name(body["name"]),
        limit=limit,
        phases=parse_phases(body),
        voltage=230 if body.get("voltage") is None else _voltage(body),
        parent_uuid=None if parent is None else parse_uuid(parent, "parent_uuid"),
        members=_members(body),
    )


def parse_site_patch(body: Mapping[str, object]) -> SitePatch:
    reject_unknown(body, _FIELDS)
    if not any(body.get(name) is not None for name in _FIELDS):
        raise InvalidArgument(f"Send at least one of: {', '.join(_FIELDS)}")
    has_members = body.get("chargers") is not None or body.get("ports") is not None
    return SitePatch(
        name=None if body.get("name") is None else _name(body["name"]),
        limit=_limit(body),
        phases=None if body.get("phases") is None else parse_phases(body),
        voltage=None if body.get("voltage") is None else _voltage(body),
        members=_members(body) if has_members else None,
    )
