"""Sites and circuits, their members, and the sessions open under them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Exists, Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import TransactionState
from chargegate.store.models import Charger, Port, Site, SiteAllocation, SiteMember, Transaction


@dataclass(frozen=True, slots=True)
class MemberRow:
    site_id: int
    charge_point_id: str
    # None: the whole charger.
    port_uuid: str | None


@dataclass(frozen=True, slots=True)
class LiveRow:
    """An open session under a circuit, with what the balancer needs of its charger."""

    site_id: int
    transaction: Transaction
    port: Port
    charger: Charger


def _listed(operator_id: int) -> Select[Site]:
    return select(Site).where(Site.operator_id == operator_id).order_by(Site.id.desc())


async def page_end(
    session: AsyncSession, operator_id: int, limit: int, after: int | None
) -> int | None:
    query = _listed(operator_id).with_only_columns(Site.id)
    if after is not None:
        query = query.where(Site.id < after)
    found: int | None = await session.scalar(query.offset(limit - 1).limit(1))
    return found


async def listed(
    session: AsyncSession, operator_id: int, size: int, after: int | None, through: int | None
) -> Sequence[Site]:
    query = _listed(operator_id).limit(size)
    if after is not None:
        query = query.where(Site.id < after)
    if through is not None:
        query = query.where(Site.id >= through)
    return (await session.scalars(query)).all()


async def operator_site(
    session: AsyncSession, operator_id: int, site_uuid: str, *, lock: bool = False
) -> Site | None:
    query = select(Site).where(Site.operator_id == operator_id, Site.site_uuid == site_uuid)
    return await session.scalar(query.with_for_update() if lock else query)


async def operator_sites(session: AsyncSession, operator_id: int) -> Sequence[Site]:
    """All of an operator's circuits (a tree is read whole: they are few)."""
    return (await session.scalars(select(Site).where(Site.operator_id == operator_id))).all()


async def members(session: AsyncSession, site_ids: Sequence[int]) -> list[MemberRow]:
    rows = await session.execute(
        select(SiteMember.site_id, Charger.charge_point_id, SiteMember.port_uuid)
        .join(Charger, Charger.id == SiteMember.charger_id)
        .where(SiteMember.site_id.in_(site_ids))
        .order_by(SiteMember.id)
    )
    return [MemberRow(*row) for row in rows]


async def taken_elsewhere(
    session: AsyncSession, site_id: int, charger_ids: Sequence[int], port_uuids: Sequence[str]
) -> list[MemberRow]:
    """Members of other circuits that the asked ones would overlap: the same port, a port of a
    whole charger asked for, or the whole charger of a port asked for."""
    port_chargers = select(Port.charger_id).where(Port.port_uuid.in_(port_uuids))
    rows = await session.execute(
        select(SiteMember.site_id, Charger.charge_point_id, SiteMember.port_uuid)
        .join(Charger, Charger.id == SiteMember.charger_id)
        .where(
            SiteMember.site_id != site_id,
            or_(
                SiteMember.charger_id.in_(charger_ids),
                SiteMember.port_uuid.in_(port_uuids),
                SiteMember.charger_id.in_(port_chargers) & SiteMember.port_uuid.is_(None),
            ),
        )
    )
    return [MemberRow(*row) for row in rows]


async def set_members(
    session: AsyncSession, site_id: int, chargers: Sequence[int], ports: Sequence[Port]
) -> None:
    await session.execute(delete(SiteMember).where(SiteMember.site_id == site_id))
    session.add_all(SiteMember(site_id=site_id, charger_id=c) for c in chargers)
    session.add_all(
        SiteMember(site_id=site_id, charger_id=p.charger_id, port_uuid=p.port_uuid) for p in ports
    )


async def has_children(session: AsyncSession, site_id: int) -> bool:
    found = await session.scalar(select(Site.id).where(Site.parent_id == site_id).limit(1))
    return found is not None


async def remove(session: AsyncSession, site: Site) -> None:
    await session.execute(delete(SiteMember).where(SiteMember.site_id == site.id))
    await session.delete(site)


async def live(session: AsyncSession, site_ids: Sequence[int]) -> list[LiveRow]:
    """The open (real) sessions on the ports of these circuits' members."""
    on_member = or_(
        SiteMember.port_uuid == Port.port_uuid,
        (SiteMember.port_uuid.is_(None)) & (SiteMember.charger_id == Port.charger_id),
    )
    rows = await session.execute(
        select(SiteMember.site_id, Transaction, Port, Charger)
        .join(Port, on_member)
        .join(Transaction, Transaction.port_uuid == Port.port_uuid)
        .join(Charger, Charger.id == Port.charger_id)
        .where(
            SiteMember.site_id.in_(site_ids),
            Transaction.state == TransactionState.OPEN,
            Transaction.staging.is_(False),
        )
        .order_by(Transaction.id)
    )
    return [LiveRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Lease:
    site_id: int
    node_id: str | None
    until: datetime | None


async def leases(session: AsyncSession) -> list[Lease]:
    """Every root's balancer lease: a read, so that a node with nothing to claim or renew
    writes nothing (roots are few)."""
    rows = await session.execute(
        select(Site.id, Site.balancer_node, Site.balancer_until).where(Site.parent_id.is_(None))
    )
    return [Lease(*row) for row in rows]


async def claim_roots(
    session: AsyncSession, node_id: str, now: datetime, until: datetime
) -> Sequence[Site]:
    """The sites (roots) whose balancer this node runs: those it held, and those free or whose
    holder let its lease run out, taken over until `until`. One node per site at a time."""
    await session.execute(
        update(Site)
        .where(
            Site.parent_id.is_(None),
            or_(
                Site.balancer_node.is_(None),
                Site.balancer_node == node_id,
                Site.balancer_until < now,
            ),
        )
        .values(balancer_node=node_id, balancer_until=until)
        .execution_options(synchronize_session=False)
    )
    query = select(Site).where(Site.parent_id.is_(None), Site.balancer_node == node_id)
    return (await session.scalars(query.order_by(Site.id))).all()


async def release(session: AsyncSession, node_id: str) -> None:
    await session.execute(
        update(Site)
        .where(Site.balancer_node == node_id)
        .values(balancer_node=None, balancer_until=None)
        .execution_options(synchronize_session=False)
    )


async def record(session: AsyncSession, site_id: int, at: datetime, amps: dict[str, float]) -> None:
    session.add(SiteAllocation(site_id=site_id, at=at, amps=amps))


async def history(session: AsyncSession, site_id: int, since: datetime) -> Sequence[SiteAllocation]:
    query = select(SiteAllocation).where(
        SiteAllocation.site_id == site_id, SiteAllocation.at >= since
    )
    return (await session.scalars(query.order_by(SiteAllocation.id))).all()


async def connector_under_a_site(session: AsyncSession, charger_id: int, connector_id: int) -> bool:
    """Whether the charger's port (connector or EVSE id; 0: any of its ports) is on a site."""
    member = select(SiteMember.id).where(SiteMember.charger_id == charger_id)
    if connector_id:
        port = select(Port.port_uuid).where(
            Port.charger_id == charger_id, Port.connector_id == connector_id
        )
        member = member.where(
            or_(SiteMember.port_uuid.is_(None), SiteMember.port_uuid.in_(port.scalar_subquery()))
        )
    return await session.scalar(member.limit(1)) is not None


def port_under_a_site() -> Exists:
    """Whether the Port of the enclosing query is under a site: its charger as a whole, or the
    port itself, is a member."""
    return (
        select(SiteMember.id)
        .where(
            SiteMember.charger_id == Port.charger_id,
            or_(SiteMember.port_uuid.is_(None), SiteMember.port_uuid == Port.port_uuid),
        )
        .exists()
    )
