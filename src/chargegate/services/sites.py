"""Sites and circuits as their operator manages them: made, listed, shown with each open
session's allocation and the measured load, changed, deleted. A circuit is a site with a parent
(a feeder inside it); every circuit's limit holds for all the sessions under it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from chargegate.bus import Topic
from chargegate.domain.cursors import RowMark
from chargegate.domain.errors import Conflict, InvalidArgument, NotFound
from chargegate.domain.fleet import WebhooksRequest
from chargegate.domain.sites import Limit, Members, SiteCreate, SitePatch
from chargegate.domain.times import utcnow
from chargegate.services import operator_chargers, site_tree
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import sites as site_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Port, Site
from chargegate.store.sites import MemberRow


@dataclass(frozen=True, slots=True)
class ShareView:
    """An open session under the circuit and what the balancer gives it."""

    transaction_uuid: str
    port_uuid: str
    charge_point_id: str
    priority: int
    allocated_a: float
    waiting: bool
    measured_current_a: float | None
    measured_power_w: float | None


@dataclass(frozen=True, slots=True)
class SiteView:
    site_uuid: str
    name: str
    parent_uuid: str | None
    max_current_a: float | None
    max_power_w: float | None
    phases: int
    voltage: int
    chargers: tuple[str, ...]
    ports: tuple[str, ...]
    created: datetime
    # Only for one site: the open sessions under it, and what they draw (measured).
    sessions: tuple[ShareView, ...] | None = None
    measured_current_a: float | None = None
    measured_power_w: float | None = None


def _view(site: Site, parent_uuid: str | None, members: Sequence[MemberRow]) -> SiteView:
    return SiteView(
        site_uuid=site.site_uuid,
        name=site.name,
        parent_uuid=parent_uuid,
        max_current_a=site.max_current_a,
        max_power_w=site.max_power_w,
        phases=site.phases,
        voltage=site.voltage,
        chargers=tuple(m.charge_point_id for m in members if m.port_uuid is None),
        ports=tuple(m.port_uuid for m in members if m.port_uuid is not None),
        created=site.created_at,
    )


async def _views(session: AsyncSession, sites: Sequence[Site]) -> list[SiteView]:
    members = await site_store.members(session, [s.id for s in sites])
    parents = {s.id: s.site_uuid for s in await _parents(session, sites)}
    return [
        _view(
            site,
            None if site.parent_id is None else parents[site.parent_id],
            [m for m in members if m.site_id == site.id],
        )
        for site in sites
    ]


async def _parents(session: AsyncSession, sites: Sequence[Site]) -> Sequence[Site]:
    if all(site.parent_id is None for site in sites):
        return []
    return await site_store.operator_sites(session, sites[0].operator_id)


async def _find(session: AsyncSession, operator_id: int, site_uuid: str) -> Site:
    site = await site_store.operator_site(session, operator_id, site_uuid, lock=True)
    if site is None:
        raise NotFound(f"Site not found: no site or circuit {site_uuid} for this API key")
    return site


async def _set_members(
    session: AsyncSession, operator_id: int, site: Site, members: Members
) -> None:
    chargers = [
        await operator_chargers.find(session, operator_id, charge_point_id)
        for charge_point_id in members.charge_point_ids
    ]
    ports: list[Port] = []
    for port_uuid in members.port_uuids:
        found = await charger_store.operator_port(session, operator_id, port_uuid)
        if found is None:
            raise NotFound(f"Port not found: no port {port_uuid} for this API key")
        ports.append(found[0])
    if {p.charger_id for p in ports} & {c.id for c in chargers}:
        raise InvalidArgument("a port of a charger that is named whole is named again")
    taken = await site_store.taken_elsewhere(
        session, site.id, [c.id for c in chargers], [p.port_uuid for p in ports]
    )
    if taken:
        what = taken[0].port_uuid or taken[0].charge_point_id
        raise Conflict(f"{what} is already under another site or circuit: take it off there first")
    await site_store.set_members(session, site.id, [c.id for c in chargers], ports)


def _set_limit(site: Site, limit: Limit) -> None:
    site.max_current_a, site.max_power_w = limit.max_current_a, limit.max_power_w


async def create(rt: Runtime, operator_id: int, request: SiteCreate) -> SiteView:
    async with rt.sessions() as session, session.begin():
        parent = None
        if request.parent_uuid is not None:
            parent = await _find(session, operator_id, request.parent_uuid)
        site = Site(
            site_uuid=str(uuid.uuid4()),
            operator_id=operator_id,
            parent_id=None if parent is None else parent.id,
            name=request.name,
            phases=request.phases,
            voltage=request.voltage,
            created_at=utcnow(),
        )
        _set_limit(site, request.limit)
        session.add(site)
        await session.flush()
        await _set_members(session, operator_id, site, request.members)
        members = await site_store.members(session, [site.id])
        return _view(site, request.parent_uuid, members)


async def list_sites(
    rt: Runtime, operator_id: int, request: WebhooksRequest
) -> Listing[tuple[int, SiteView], SiteView, RowMark]:
    async def rows(
        session: AsyncSession, after: RowMark | None, through: RowMark | None, size: int
    ) -> list[tuple[int, SiteView]]:
        found = await site_store.listed(
            session,
            operator_id,
            size,
            None if after is None else after.row_id,
            None if through is None else through.row_id,
        )
        return list(zip([site.id for site in found], await _views(session, found), strict=True))

    async def page_end(session: AsyncSession) -> RowMark | None:
        after = None if request.after is None else request.after.row_id
        found = await site_store.page_end(session, operator_id, request.limit, after)
        return None if found is None else RowMark(found)

    keyset = Keyset(
        rows=rows,
        page_end=page_end,
        mark=lambda row: RowMark(row[0]),
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, lambda row: row[1])


async def get(rt: Runtime, operator_id: int, site_uuid: str) -> SiteView:
    async with rt.reads() as session:
        site = await site_store.operator_site(session, operator_id, site_uuid)
        if site is None:
            raise NotFound(f"Site not found: no site or circuit {site_uuid} for this API key")
        (view,) = await _views(session, [site])
        tree = await site_tree.read(session, site)
    allocation = tree.allocate()
    under = tree.under(site)
    shares = tuple(
        ShareView(
            transaction_uuid=row.transaction.transaction_uuid,
            port_uuid=row.port.port_uuid,
            charge_point_id=row.charger.charge_point_id,
            priority=row.transaction.priority,
            allocated_a=float(allocation.amps[row.transaction.transaction_uuid]),
            waiting=row.transaction.transaction_uuid in allocation.waiting,
            measured_current_a=row.transaction.measured_current_a,
            measured_power_w=row.transaction.measured_power_w,
        )
        for row in tree.live
        if row.site_id in under
    )
    currents = [s.measured_current_a for s in shares if s.measured_current_a is not None]
    powers = [s.measured_power_w for s in shares if s.measured_power_w is not None]
    return replace(
        view,
        sessions=shares,
        measured_current_a=round(sum(currents), 1) if currents else None,
        measured_power_w=round(sum(powers)) if powers else None,
    )


async def modify(rt: Runtime, operator_id: int, site_uuid: str, patch: SitePatch) -> SiteView:
    """All the changes asked for, or none."""
    async with rt.sessions() as session, session.begin():
        site = await _find(session, operator_id, site_uuid)
        if patch.name is not None:
            site.name = patch.name
        if patch.limit is not None:
            _set_limit(site, patch.limit)
        if patch.phases is not None:
            site.phases = patch.phases
        if patch.voltage is not None:
            site.voltage = patch.voltage
        if patch.members is not None:
            await _set_members(session, operator_id, site, patch.members)
        await session.flush()
        (view,) = await _views(session, [site])
    # A new limit or new members are shared again now, not at the balancer's next pass.
    rt.bus.wake(Topic.BALANCE)
    return view


async def delete(rt: Runtime, operator_id: int, site_uuid: str) -> None:
    """Its members are then under no limit of it; a site with circuits inside is a 409."""
    async with rt.sessions() as session, session.begin():
        site = await _find(session, operator_id, site_uuid)
        if await site_store.has_children(session, site.id):
            raise Conflict(f"Site {site_uuid} has circuits inside: delete them first")
        await site_store.remove(session, site)
