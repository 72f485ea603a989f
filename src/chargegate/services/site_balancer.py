"""The site balancer: keeps every open session under a site within every circuit's limit by
sending TxProfiles (set_charging_profile through the outbox), lowering before raising.

One node runs a site's balancer at a time (a lease on the site's row, renewed half-way; a node
that dies lets it run out and another takes over). Each pass recomputes from the database, and
what changes a site wakes it (starts, stops, limit changes, chargers lost or back, answers to
its profiles; the measured load is shown, not balanced on), so a pass after a crash or a
takeover picks up where the last one was:

- a session counts at `allocated_a`, the most its charger may have been told (a start under a
  site is sent with a fail-safe limit of 0 A, so a new session counts at 0 until raised);
- a lowering is sent with `allocation_pending_a`/`allocation_command_id`; only the charger's
  Accepted lowers `allocated_a`. While any lowering of a site is unanswered nothing is raised
  there; a charger lost meanwhile keeps its higher allocation counted (domain.balancer OFFLINE);
- a raise counts at once: the charger may apply it as soon as it is sent.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain import balancer
from chargegate.domain.charging_profiles import (
    BALANCER_STACK_LEVEL,
    Period,
    Purpose,
    RateUnit,
    SetProfileParams,
)
from chargegate.domain.command_params import to_json
from chargegate.domain.profile_values import INT_MAX
from chargegate.domain.states import ChargerAction, CommandStatus
from chargegate.domain.times import utcnow
from chargegate.domain.webhooks import EventType
from chargegate.services import charger_commands, site_tree, webhooks
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store import sites as site_store
from chargegate.store.models import Command, Site, Transaction
from chargegate.store.sites import LiveRow

log = logging.getLogger(__name__)

# Above the fail-safe TxProfile (ocpp.fail_safe), which stays as the backstop: this one ends at
# the same expiry.
STACK_LEVEL = BALANCER_STACK_LEVEL
# The balancer's profile of a transaction has one id, so each new one replaces the last; ids
# below are left to operator profiles (their command ids).
PROFILE_ID_BASE = 1_000_000_000
# While lowerings are unanswered: their answers wake the balancer, and this poll covers an
# answer written on a node without a broker to wake this one.
IN_FLIGHT_POLL_S = 0.25


class SiteBalancer:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._lease = timedelta(seconds=rt.settings.site_lease_s)

    async def run(self) -> None:
        # The balancer is woken by what changes a site (sessions, connections, answers to its
        # profiles, site edits); this poll is the safety net (a lost wake-up, a holder that
        # died), and a pass at least every third of the lease renews it in time.
        poll_s = self._lease.total_seconds() / 3
        while True:
            try:
                busy = await self.tick()
            except Exception:
                log.exception("site balancer pass failed; retrying")
                busy = False
            await self._rt.bus.wait(Topic.BALANCE, IN_FLIGHT_POLL_S if busy else poll_s)

    async def tick(self) -> bool:
        """One pass over the sites this node balances; True if a lowering is unanswered."""
        busy, sent = False, False
        node_id = self._rt.settings.node_id
        for root in await self._roots(node_id):
            async with self._rt.sessions() as session, session.begin():
                site = await session.get(Site, root, with_for_update=True)
                if site is None or site.balancer_node != node_id:
                    continue
                outcome = await balance(session, self._rt, site)
            busy |= outcome is Outcome.WAITING
            sent |= outcome is not Outcome.SETTLED
        if sent:
            self._rt.bus.wake(Topic.DISPATCH)
        return busy

    async def _roots(self, node_id: str) -> list[int]:
        """The ids of the sites this node balances, claimed or renewed only when one is free,
        run out, or half through its lease here: most passes write nothing for it."""
        now = utcnow()
        async with self._rt.reads() as session:
            leases = await site_store.leases(session)
        if not any(_to_claim(lease, node_id, now, self._lease) for lease in leases):
            return [lease.site_id for lease in leases if lease.node_id == node_id]
        async with self._rt.sessions() as session, session.begin():
            held = await site_store.claim_roots(session, node_id, now, now + self._lease)
        return [site.id for site in held]


def _to_claim(lease: site_store.Lease, node_id: str, now: datetime, length: timedelta) -> bool:
    """Whether the site is free, run out, or (held here) half through its lease: a holder
    renews half-way, so a pass at least every third of the lease renews in time."""
    if lease.node_id is None or lease.until is None or lease.until < now:
        return True
    return lease.node_id == node_id and lease.until - now < length / 2


class Outcome(enum.Enum):
    SETTLED = "settled"  # nothing to send
    SENT = "sent"  # raises sent (or lowerings, see WAITING)
    WAITING = "waiting"  # lowerings unanswered


def _accepted(command: Command | None) -> bool | None:
    """None while unanswered; then whether the charger took the profile."""
    if command is None or command.status is CommandStatus.CANCELLED:
        return False
    if command.status is not CommandStatus.DONE:
        return None
    return (command.answer or {}).get("status") == "Accepted"


async def _settle_lowerings(session: AsyncSession, rows: tuple[LiveRow, ...]) -> bool:
    """Apply the answered lowerings; True if some are still unanswered."""
    waiting = False
    for row in rows:
        transaction = row.transaction
        if transaction.allocation_command_id is None:
            continue
        command = await session.get(Command, transaction.allocation_command_id)
        taken = _accepted(command)
        if taken is None and row.charger.connected_node is not None:
            waiting = True
            continue
        if taken:
            transaction.allocated_a = transaction.allocation_pending_a
        # Refused, undelivered or its charger gone: it still counts at its higher allocation.
        transaction.allocation_pending_a = transaction.allocation_command_id = None
    return waiting


def _counted(transaction: Transaction) -> Fraction:
    """What a session may be drawing: never told a limit, its port's maximum."""
    if transaction.allocated_a is None:
        return site_tree.PORT_MAX_A
    return Fraction(str(transaction.allocated_a))


async def balance(session: AsyncSession, rt: Runtime, site: Site) -> Outcome:
    tree = await site_tree.read(session, site)
    if await _settle_lowerings(session, tree.live):
        return Outcome.WAITING
    sessions = tree.sessions()
    allocation = balancer.allocate(tree.circuits(), sessions)
    managed = {s.id for s in sessions if s.control is balancer.Control.MANAGED}
    rows = {row.transaction.transaction_uuid: row for row in tree.live}
    before = {uuid: _counted(rows[uuid].transaction) for uuid in managed}
    after = {uuid: allocation.amps[uuid] for uuid in managed}
    steps = balancer.plan(before, after)
    now = utcnow()
    resent = False
    if steps.lowers:
        for change in steps.lowers:
            row = rows[change.session]
            command_id = await _send(session, rt, row, change.after, now)
            row.transaction.allocation_pending_a = float(change.after)
            row.transaction.allocation_command_id = command_id
    else:
        for change in steps.raises:
            await _send(session, rt, rows[change.session], change.after, now)
            rows[change.session].transaction.allocated_a = float(change.after)
        raised = {change.session for change in steps.raises}
        for uuid in sorted(managed - raised):
            transaction = rows[uuid].transaction
            if transaction.allocation_until not in (None, transaction.expires_at):
                # The same allocation to a new expiry: neither a lowering nor a raise.
                await _send(session, rt, rows[uuid], after[uuid], now)
                resent = True
    if not steps.lowers and not steps.raises:
        return Outcome.SENT if resent else Outcome.SETTLED
    decided = {uuid: float(amps) for uuid, amps in sorted(allocation.amps.items())}
    await site_store.record(session, site.id, now, decided)
    await webhooks.emit(
        session,
        site.operator_id,
        EventType.SITE_ALLOCATION,
        site.site_uuid,
        {
            "site_uuid": site.site_uuid,
            "allocations": [
                {
                    "transaction_uuid": uuid,
                    "allocated_a": amps,
                    "waiting": uuid in allocation.waiting,
                }
                for uuid, amps in decided.items()
            ],
        },
    )
    return Outcome.WAITING if steps.lowers else Outcome.SENT


def profile(row: LiveRow, amps: Fraction, now: datetime) -> SetProfileParams:
    """The session's TxProfile: `amps` from now, 0 A from its expiry (as the fail-safe one)."""
    transaction = row.transaction
    periods = [Period(start_s=0, limit=float(amps))]
    if transaction.expires_at is not None:
        seconds = int((transaction.expires_at - now).total_seconds())
        periods.append(Period(start_s=min(INT_MAX, max(1, seconds)), limit=0.0))
    is_16 = row.charger.ocpp_version == "ocpp1.6"
    return SetProfileParams(
        purpose=Purpose.TX,
        unit=RateUnit.AMPS,
        periods=tuple(periods),
        port=row.port.connector_id,
        stack_level=STACK_LEVEL,
        profile_id=PROFILE_ID_BASE + transaction.id,
        start_schedule=now,
        transaction_id=str(transaction.id) if is_16 else transaction.charger_transaction_id,
    )


async def _send(
    session: AsyncSession, rt: Runtime, row: LiveRow, amps: Fraction, now: datetime
) -> int:
    item = await charger_commands.enqueue(
        session,
        rt,
        row.charger,
        ChargerAction.SET_CHARGING_PROFILE,
        False,
        now,
        "the site allocation",
        connector_id=row.port.connector_id,
        params=to_json(profile(row, amps, now)),
    )
    row.transaction.allocation_until = row.transaction.expires_at
    command = await command_store.for_queue_item(session, item.queue_uuid)
    assert command is not None, "enqueue added it"
    return command.id
