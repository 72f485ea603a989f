"""A site's allocation over time, for the dashboard's site panel: the balancer's recorded
decisions (services.site_balancer) of the last hours, and each open session's share now (as
GET /1.2/sites/<uuid> shows it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chargegate.domain.times import format_api, utcnow
from chargegate.services import sites as site_service
from chargegate.services.runtime import Runtime
from chargegate.store import sites as site_store

WINDOW = timedelta(hours=24)
# Decisions per site the panel draws: the newest, whatever the balancer's pace.
POINTS_MAX = 200


async def sites(rt: Runtime, operator_id: int) -> list[dict[str, Any]]:
    since = utcnow() - WINDOW
    async with rt.reads() as session:
        roots = [
            s for s in await site_store.operator_sites(session, operator_id) if s.parent_id is None
        ]
        shown = []
        for site in sorted(roots, key=lambda s: s.name):
            decisions = list(await site_store.history(session, site.id, since))[-POINTS_MAX:]
            now = await site_service.get(rt, operator_id, site.site_uuid)
            shown.append(
                {
                    "site_uuid": site.site_uuid,
                    "name": site.name,
                    "max_current_a": site.max_current_a,
                    "max_power_w": site.max_power_w,
                    "allocations": [
                        {
                            "at": format_api(decision.at),
                            "total_a": round(sum(decision.amps.values()), 1),
                            "sessions": sum(1 for amps in decision.amps.values() if amps > 0),
                            "waiting": sum(1 for amps in decision.amps.values() if amps == 0),
                        }
                        for decision in decisions
                    ],
                    "sessions": [
                        {
                            "charge_point_id": share.charge_point_id,
                            "allocated_a": share.allocated_a,
                            "waiting": share.waiting,
                        }
                        for share in now.sessions or ()
                    ],
                }
            )
    return shown
