"""What nodes tell each other through the broker, and reading it back.

Anything may arrive on a channel (another version of chargegate, a person with redis-cli, a
bug): a message that is not one of ours is Malformed, for the listener to log and skip."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chargegate.bus import Topic
from chargegate.domain.errors import ChargegateError
from chargegate.domain.identity import InvalidChargePointId, check_charge_point_id

WAKE = "chargegate:wake"
EVICT = "chargegate:evict"


@dataclass(frozen=True, slots=True)
class Wake:
    topics: tuple[Topic, ...]


@dataclass(frozen=True, slots=True)
class Evict:
    charge_point_id: str
    epoch: int


class Malformed(ChargegateError, ValueError):
    """Not a message chargegate sends; the text says what is wrong (never the whole body)."""


def wake(topics: tuple[Topic, ...], node_id: str) -> str:
    return json.dumps({"topics": [str(topic) for topic in topics], "node": node_id})


def evict(charge_point_id: str, epoch: int, node_id: str) -> str:
    return json.dumps({"charge_point_id": charge_point_id, "epoch": epoch, "node": node_id})


def read(channel: object, data: object, node_id: str) -> Wake | Evict | None:
    """The message, or None when this node sent it itself."""
    body = _object(data)
    if body.get("node") == node_id:
        return None
    name = channel.decode(errors="replace") if isinstance(channel, bytes) else channel
    if name == WAKE:
        topics = body.get("topics")
        if not isinstance(topics, list):
            raise Malformed("a wake-up without a list of topics")
        if not all(isinstance(t, str) for t in topics):
            raise Malformed("a wake-up whose topics are not all text")
        # A topic this version does not know (a newer node's) wakes nothing here.
        return Wake(tuple(Topic(t) for t in topics if t in Topic._value2member_map_))
    if name == EVICT:
        charge_point_id, epoch = body.get("charge_point_id"), body.get("epoch")
        if not isinstance(charge_point_id, str):
            raise Malformed("an eviction without a charge point id")
        try:
            check_charge_point_id(charge_point_id)
        except InvalidChargePointId as exc:
            raise Malformed(f"an eviction of an impossible charger: {exc}") from None
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise Malformed("an eviction without a whole, non-negative epoch")
        return Evict(charge_point_id, epoch)
    raise Malformed(f"a message on an unknown channel {str(name)[:64]!r}")


def _object(data: object) -> dict[str, Any]:
    try:
        body = json.loads(data) if isinstance(data, (str, bytes)) else None
    except (ValueError, RecursionError):
        raise Malformed("not JSON") from None
    if not isinstance(body, dict):
        raise Malformed("not a JSON object")
    return body
