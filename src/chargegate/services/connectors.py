"""Which connectors (1.6) or EVSEs (2.0.1) a charger may name: the ports the operator registered
for it, and connectors 1..CHARGEGATE_MAX_CONNECTORS, which become ports on first use.

Anything else is refused before a port is created or a cache entry made: OCPP lets a charger
name any connector up to 2^31, and a port (with its cached status) per number would let one
charger grow our tables and this node's memory without bound.
"""

from __future__ import annotations

from chargegate.domain.errors import UnknownConnector
from chargegate.services.runtime import Runtime

# Connector (or EVSE) 0 is the charger as a whole: its status and meter values are taken, but
# it is never a port, and nothing is charged on it.
STATION = 0


async def require(rt: Runtime, charge_point_id: str, connector_id: int, *, station: bool) -> None:
    """Raises UnknownConnector unless `connector_id` may be named here: a registered port, one
    that may be created on first use, or (where `station` allows) the charger as a whole."""
    if connector_id == STATION and station:
        return
    bound = rt.settings.max_connectors
    if 1 <= connector_id <= bound:
        return
    # Rare (a registered port above the bound, or a hostile number): only then a read.
    if await rt.node.lookups.port_status(charge_point_id, connector_id) is not None:
        return
    raise UnknownConnector(
        f"connector {connector_id} is not a port of {charge_point_id}: ports are those "
        f"registered for it and connectors 1..{bound}"
    )
