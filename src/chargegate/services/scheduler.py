"""Due times: stops at expiry, start and command deadlines. The database decides, a timer
wakes us."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.states import TransactionAction
from chargegate.domain.times import utcnow
from chargegate.metrics import SCHEDULER_PASSES, STOPS_RETRYING
from chargegate.services import charger_commands, outcomes, reservation_outcomes
from chargegate.services import stops as stops_service
from chargegate.services.dispatcher import claim_lease
from chargegate.services.runtime import Runtime
from chargegate.store import commands as command_store
from chargegate.store import due as due_store
from chargegate.store import idempotency as idempotency_store
from chargegate.store import queue_items as queue_store
from chargegate.store import transactions as tx_store

log = logging.getLogger(__name__)

RECHECK = timedelta(seconds=0.2)


class Scheduler:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        # When the retrying-stops gauge was last counted (a query: not on every wake-up).
        self._gauge_at: datetime | None = None

    async def run(self) -> None:
        poll = self._rt.settings.poll_interval_s
        while True:
            try:
                next_at = await self.tick()
            except Exception:
                log.exception("scheduler pass failed; retrying")
                next_at = None
            timeout = poll
            if next_at is not None:
                timeout = min(poll, max(0.0, (next_at - utcnow()).total_seconds()))
            # The topic is a flag, not a count: however many wake-ups came during the pass, they
            # cause one more pass.
            await self._rt.bus.wait(Topic.SCHEDULE, timeout)

    async def tick(self) -> datetime | None:
        """Act on everything due now; return when something is next due."""
        now = utcnow()
        # Most wake-ups find nothing due: asking on a reader leaves the writer (on SQLite the
        # one connection every write queues for) to the writes that have work.
        async with self._rt.reads() as session:
            due = await due_store.next_due(session)
            if self._gauge_at is None or now - self._gauge_at >= timedelta(
                seconds=self._rt.settings.poll_interval_s
            ):
                STOPS_RETRYING.set(await due_store.stops_retrying(session))
                self._gauge_at = now
        next_at = due.earliest()
        if next_at is None or next_at > now:
            SCHEDULER_PASSES.labels("idle").inc()
            return next_at
        SCHEDULER_PASSES.labels("write").inc()
        # What the read saw due, another node may have acted on since: the write pass finds it
        # again under its locks, or finds nothing.
        stops, postponed = await self._act(now, sweep=due.sweep is not None and due.sweep <= now)
        if stops.claimed:
            self._rt.node.claimed_here.extend(stops.claimed)
        if stops.count:
            # A stop step may have closed a session under a site.
            self._rt.bus.wake(Topic.DISPATCH, Topic.BALANCE)
        if postponed:
            # A postponed deadline is already past: look again shortly, not in a tight loop.
            return now + RECHECK
        # Look again at once: the read finds when the next thing is due.
        return now

    async def _act(self, now: datetime, *, sweep: bool) -> tuple[stops_service.Requested, bool]:
        """The write pass: returns the stops it requested and whether it postponed a start.
        `sweep`: Idempotency-Keys past their retention are deleted too (not on every pass: the
        deletion is housekeeping, and most passes have none due)."""
        settings = self._rt.settings
        async with self._rt.sessions() as session, session.begin():
            if sweep:
                await idempotency_store.sweep(session, now)
            stops = await self._expire(session, now)
            steps = await stops_service.take_due_steps(session, now, settings)
            postponed = await self._fail_overdue_starts(session, now)
            await charger_commands.fail_overdue(session, now, settings.command_timeout_s)
            await reservation_outcomes.expire_due(session, now)
        return stops_service.Requested(stops.count + steps, stops.claimed), postponed

    async def _expire(self, session: AsyncSession, now: datetime) -> stops_service.Requested:
        for transaction in await due_store.due_staging_expiries(session, now):
            # No charger to ask in the sandbox: the session simply ends at its expiry.
            assert transaction.expires_at is not None
            await outcomes.close_transaction(
                session, transaction, transaction.expires_at, None, "expired", now
            )
        expired = await due_store.due_expiries(session, now)
        # Claimed as they are written, for this node's dispatcher (not while draining: it
        # claims nothing then, and another node takes them from the outbox).
        lease = None if self._rt.node.draining else claim_lease(self._rt.settings, now)
        return await stops_service.request(
            session, expired, "expired", now, self._rt.settings, lease
        )

    async def _fail_overdue_starts(self, session: AsyncSession, now: datetime) -> bool:
        """Fail starts past their deadline; returns whether any was postponed.

        A charger that has just reconnected (after its outage, or ours) first reports what it
        queued meanwhile, quite possibly the very start we are about to call missing: its
        deadline waits until it has been back for the resend settle time.
        """
        timeout = self._rt.settings.start_timeout_s
        settle = timedelta(seconds=self._rt.settings.resend_settle_s)
        recovering = now - self._rt.node.started_at < timedelta(seconds=timeout)
        postponed = False
        for item, transaction in await queue_store.overdue_starts(session, now):
            charger = await tx_store.transaction_charger(session, transaction)
            settling = (
                charger.connected_node is not None
                and charger.connected_at is not None
                and now - charger.connected_at < settle
            )
            # Our own outage is not the charger's fault. Whatever it did with a start while we
            # were down (took it, began charging) it can only report once it has reconnected,
            # and a start still unsent because of us must still go out: for one timeout after
            # we come back, no start fails. Later, a start sent just before a crash (in doubt)
            # still gets one more timeout, counted from when we came back.
            held_up_by_us = recovering or (
                item.deadline_at is not None
                and now
                < max(item.deadline_at, self._rt.node.started_at) + timedelta(seconds=timeout)
                and await command_store.has_outstanding(
                    session, transaction.id, TransactionAction.START, in_doubt=True
                )
            )
            if settling or held_up_by_us:
                postponed = True
                continue
            if await command_store.has_outstanding(
                session, transaction.id, TransactionAction.START
            ):
                reason = (
                    f"The charger did not receive the start request within {timeout:g} s "
                    "(it went offline or did not answer)"
                )
            else:
                reason = (
                    f"No EV started charging within {timeout:g} s: the charger accepted the "
                    "start but reported no started transaction (is the EV plugged in?)"
                )
            await outcomes.fail_start(session, transaction, reason, now)
        for transaction in await due_store.expired_pending(session, now):
            await outcomes.fail_start(
                session, transaction, "The expiry time passed before the charger started", now
            )
        return postponed
