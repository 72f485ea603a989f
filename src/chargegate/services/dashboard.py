"""The operator dashboard's data: one read, shaped for the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chargegate.domain.dashboard import Delivery, energy_per_hour, hour_starts, seconds_left
from chargegate.domain.times import format_api, utcnow
from chargegate.services.fleet import version_name
from chargegate.services.runtime import Runtime
from chargegate.services.views import energy_wh, stop_data, stop_view
from chargegate.store import chargers as charger_store
from chargegate.store import dashboard as dashboard_store

WINDOW = timedelta(hours=24)


async def overview(rt: Runtime, operator_id: int) -> dict[str, Any]:
    now = utcnow()
    since = now - WINDOW
    starts = hour_starts(now)
    # The page lists at most this many ports and open transactions (and says how many more
    # there are): whatever the fleet's size, one refresh is a few bounded reads.
    most = rt.settings.dashboard_max_rows
    async with rt.reads() as session:
        ports = await charger_store.operator_ports(session, operator_id, most)
        port_total = await dashboard_store.port_count(session, operator_id)
        open_rows = await dashboard_store.open_transactions(session, operator_id, most)
        open_total = await dashboard_store.open_count(session, operator_id)
        failures = await dashboard_store.recent_failures(session, operator_id, since)
        by_hour = await dashboard_store.energy_by_hour(session, operator_id, starts)
    chargers: dict[str, dict[str, Any]] = {}
    for port, charger in ports:
        entry = chargers.setdefault(
            charger.charge_point_id,
            {
                "charge_point_id": charger.charge_point_id,
                "online": charger.connected_node is not None,
                "last_seen": format_api(charger.last_seen_at),
                # Which reset types the page offers; the registered version until it connects.
                "ocpp_version": version_name(charger.ocpp_version or charger.ocpp_protocol),
                "ports": [],
            },
        )
        entry["ports"].append(
            {
                "port_uuid": port.port_uuid,
                "connector_id": port.connector_id,
                "status": port.status,
                "since": format_api(port.status_at),
            }
        )
    hours = energy_per_hour((Delivery(starts[index], wh) for index, wh in by_hour), now)
    return {
        "now": format_api(now),
        "chargers": list(chargers.values()),
        "open_transactions": [
            {
                "transaction_uuid": t.transaction_uuid,
                "charge_point_id": charge_point_id,
                "connector_id": connector_id,
                "started": format_api(t.started_at),
                "expires": format_api(t.expires_at),
                "seconds_left": seconds_left(t.expires_at, now),
                "energy_wh": energy_wh(t),
                # A stop under way, and whether (and why) it did not take yet.
                "stop": stop_data(stop_view(t)),
            }
            for t, charge_point_id, connector_id in open_rows
        ],
        "recent_failures": [
            {
                "id": item.queue_uuid,
                "kind": item.kind,
                "reason": item.reason,
                "at": format_api(item.resolved_at),
                "transaction_uuid": transaction_uuid,
                "charge_point_id": charge_point_id,
                "connector_id": connector_id,
            }
            for item, transaction_uuid, charge_point_id, connector_id in failures
        ],
        "energy_per_hour": [{"hour": format_api(h), "wh": wh} for h, wh in hours],
        # Beyond dashboard_max_rows: GET /1.2/ports lists every port.
        "not_shown": {
            "ports": port_total - len(ports),
            "open_transactions": open_total - len(open_rows),
        },
    }
