"""The OCPP versions we speak, by WebSocket subprotocol, and how one is chosen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from chargegate.ocpp.common import Probed
from chargegate.ocpp.local_lists import Wording
from chargegate.ocpp.rpc import Handler, Payload, RpcSession
from chargegate.ocpp.v16 import handlers as v16_handlers
from chargegate.ocpp.v16 import local_list as v16_local_list
from chargegate.ocpp.v16 import orders as v16_orders
from chargegate.ocpp.v201 import handlers as v201_handlers
from chargegate.ocpp.v201 import local_list as v201_local_list
from chargegate.ocpp.v201 import orders as v201_orders
from chargegate.services.commands import Order, Reply
from chargegate.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Version:
    subprotocol: str
    handlers: Callable[[Runtime, str, Callable[[], None]], dict[str, Handler]]
    to_call: Callable[[Order], tuple[str, Payload]]
    to_reply: Callable[[str, Payload], Reply]
    probe: Callable[[RpcSession], Awaitable[Probed]]
    local_list: Wording


OCPP201 = Version(
    "ocpp2.0.1",
    v201_handlers.build,
    v201_orders.to_call,
    v201_orders.to_reply,
    v201_orders.probe,
    v201_local_list.WORDING,
)
OCPP16 = Version(
    "ocpp1.6",
    v16_handlers.build,
    v16_orders.to_call,
    v16_orders.to_reply,
    v16_orders.probe,
    v16_local_list.WORDING,
)
# Newest first: with nothing registered, a charger offering several gets the newest.
VERSIONS = {version.subprotocol: version for version in (OCPP201, OCPP16)}
SUPPORTED = tuple(VERSIONS)


def negotiate(offered: Sequence[str], registered: str | None) -> Version | None:
    """The charger's registered version if it offers it, else the newest one we share."""
    if registered in offered and registered in VERSIONS:
        return VERSIONS[registered]
    for subprotocol, version in VERSIONS.items():
        if subprotocol in offered:
            return version
    return None
