"""A site's circuits and open sessions as the balancer (domain.balancer) sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from chargegate.domain import balancer
from chargegate.domain.charging_profiles import RateUnit
from chargegate.store import sites as site_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Site, Transaction
from chargegate.store.sites import LiveRow

# What a port may draw when nothing says less: the common AC socket (32 A per phase).
PORT_MAX_A = Fraction(32)


@dataclass(frozen=True, slots=True)
class Tree:
    root: Site
    sites: tuple[Site, ...]  # the root and every circuit under it
    live: tuple[LiveRow, ...]

    def under(self, site: Site) -> set[int]:
        """The ids of `site` and of every circuit below it."""
        found, frontier = {site.id}, [site.id]
        while frontier:
            parent = frontier.pop()
            for child in self.sites:
                if child.parent_id == parent and child.id not in found:
                    found.add(child.id)
                    frontier.append(child.id)
        return found

    def circuits(self) -> list[balancer.Circuit]:
        return [circuit(site) for site in self.sites]

    def sessions(self) -> list[balancer.Session]:
        by_id = {s.id: s for s in self.sites}
        return [session(row, by_id[row.site_id]) for row in self.live]

    def allocate(self) -> balancer.Allocation:
        return balancer.allocate(self.circuits(), self.sessions())


def root_of(site: Site, sites: Sequence[Site]) -> Site:
    by_id = {s.id: s for s in sites}
    while site.parent_id is not None:
        site = by_id[site.parent_id]
    return site


async def read(session: AsyncSession, site: Site) -> Tree:
    """The whole tree `site` is in (its root's), with the sessions open under it."""
    everything = await site_store.operator_sites(session, site.operator_id)
    root = root_of(site, everything)
    tree = Tree(root, tuple(everything), ())
    members = tree.under(root)
    sites = tuple(s for s in everything if s.id in members)
    return Tree(root, sites, tuple(await site_store.live(session, sorted(members))))


def _fraction(value: float | None) -> Fraction | None:
    # Stored rounded to 0.1: the decimal text is the value meant.
    return None if value is None else Fraction(str(value))


def circuit(site: Site) -> balancer.Circuit:
    return balancer.Circuit(
        id=str(site.id),
        parent=None if site.parent_id is None else str(site.parent_id),
        phases=site.phases,
        max_current_a=_fraction(site.max_current_a),
        max_power_w=_fraction(site.max_power_w),
        voltage=Fraction(site.voltage),
    )


def _control(row: LiveRow) -> balancer.Control:
    if row.charger.smart_charging is False:
        return balancer.Control.UNMANAGED
    if row.charger.connected_node is None:
        return balancer.Control.OFFLINE
    return balancer.Control.MANAGED


def _most_a(transaction: Transaction, site: Site) -> Fraction:
    """What the session may draw: its port's maximum, or less if its start named a limit. The
    balancer's TxProfile overrides the start's (a higher stack level), so the start's limit must
    be kept in the allocation, not only in the start's profile."""
    if transaction.limit_unit is None or transaction.limit_value is None:
        return PORT_MAX_A
    limit = Fraction(str(transaction.limit_value))
    if transaction.limit_unit is RateUnit.WATTS:
        limit /= Fraction(site.voltage) * site.phases
    return min(PORT_MAX_A, limit)


def session(row: LiveRow, site: Site) -> balancer.Session:
    transaction = row.transaction
    began = transaction.started_at or transaction.created_at
    last = _fraction(transaction.allocated_a)
    control = _control(row)
    # An offline charger never told a limit may be drawing its port's maximum.
    if control is balancer.Control.OFFLINE and last is None:
        last = PORT_MAX_A
    return balancer.Session(
        id=transaction.transaction_uuid,
        circuit=str(row.site_id),
        arrival=began.timestamp(),
        max_a=_most_a(transaction, site),
        priority=transaction.priority,
        control=control,
        last_a=last or Fraction(0),
    )
