"""The outbox dispatcher: claims due commands for chargers connected here and sends them."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.config import Settings
from chargegate.domain.command_params import CommandParams, from_json, idempotent
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.local_lists import Plan
from chargegate.domain.states import (
    ChargerAction,
    ReservationAction,
    TransactionAction,
    TransactionState,
)
from chargegate.domain.times import utcnow
from chargegate.metrics import DISPATCHER_PASSES, EXPIRY_DELAY
from chargegate.services import charger_commands, command_answers, fail_safe, local_lists
from chargegate.services.command_answers import UNSTORABLE_ANSWER, Claim
from chargegate.services.commands import (
    ChargerLink,
    NotDelivered,
    Order,
    Reply,
    ReservationOrder,
    TransactionOrder,
)
from chargegate.services.group_commit import DeadLetter, GroupCommit
from chargegate.services.runtime import Runtime
from chargegate.store import claims as claim_store
from chargegate.store import commands as command_store
from chargegate.store.claims import Claimed, Lease

log = logging.getLogger(__name__)

# The answers that may change what a site's balancer decides: a profile's (a lowering answered
# lets the raises go), and those that may open or close a session.
_BALANCED: frozenset[object] = frozenset(
    {
        ChargerAction.SET_CHARGING_PROFILE,
        TransactionAction.START,
        TransactionAction.STOP,
        TransactionAction.RECONCILE,
    }
)


class Dispatcher:
    def __init__(self, rt: Runtime, link: ChargerLink) -> None:
        self._rt = rt
        self._link = link
        self._in_flight: set[asyncio.Task[None]] = set()
        self._answers: GroupCommit[tuple[Claim, Reply | str]] = GroupCommit(
            self._write,
            "command_answers",
            keep_failed=True,
            describe=lambda answer: {"command_id": answer[0].command_id},
        )

    async def run(self) -> None:
        while True:
            try:
                # Answers that could not be written earlier (the database was unavailable).
                await self._answers.flush()
                await self.dispatch_due()
            except Exception:
                log.exception("dispatcher pass failed; retrying")
            await self._rt.bus.wait(Topic.DISPATCH, self._rt.settings.poll_interval_s)

    async def dispatch_due(self) -> None:
        await self._send_taken()
        # A full batch means more may be due right now (thousands of expiries in one second):
        # claim on instead of waiting for the next wake-up.
        full = True
        while full and not self._rt.node.draining:
            claims = await self._claim()
            self._launch(claims)
            full = len(claims) >= claim_store.CLAIM_BATCH

    def _launch(self, claims: list[Claim]) -> None:
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send_taken(self) -> None:
        """The commands written claimed by this node since the last pass (NodeState.claimed_here);
        they stay listed until read, so a pass that fails leaves them to the next one."""
        taken = self._rt.node.claimed_here
        if not taken:
            return
        ids = list(taken)
        DISPATCHER_PASSES.labels("taken").inc()
        async with self._rt.sessions() as session, session.begin():
            rows = await claim_store.taken(session, self._rt.settings.node_id, ids)
            claims, unreadable = await self._prepare(session, rows)
        # Added to meanwhile only at its end.
        del taken[: len(ids)]
        _log_unreadable(unreadable)
        self._launch(claims)

    async def _claim(self) -> list[Claim]:
        settings = self._rt.settings
        settle = timedelta(seconds=settings.resend_settle_s)
        now = utcnow()
        async with self._rt.reads() as session:
            found = await claim_store.claimable(session, settings.node_id, now, settle)
        if not (found.expired or found.due):
            DISPATCHER_PASSES.labels("idle").inc()
            return []
        DISPATCHER_PASSES.labels("claim").inc()
        async with self._rt.sessions() as session, session.begin():
            rows = await claim_store.claim_due(
                session, claim_lease(settings, now), now, settle, found
            )
            claims, unreadable = await self._prepare(session, rows)
        _log_unreadable(unreadable)
        return claims

    async def _prepare(
        self, session: AsyncSession, rows: list[Claimed]
    ) -> tuple[list[Claim], list[tuple[Claimed, str]]]:
        """The claims to send of these claimed rows; those overtaken by events, unsafe to send
        again or unreadable are cancelled or failed in the caller's transaction (and the
        unreadable returned, to be logged once it commits)."""
        needed: list[Claimed] = []
        overtaken: list[int] = []
        doubtful: list[Claimed] = []
        for row in rows:
            if _unsafe_again(row):
                doubtful.append(row)
            elif _still_needed(row):
                needed.append(row)
            else:
                overtaken.append(row.command_id)
        # A row whose params no longer parse fails its own command, never the whole pass.
        params, unreadable = _read_params(needed)
        needed = [row for row in needed if row.command_id in params]
        await command_store.cancel(
            session,
            overtaken + [row.command_id for row in doubtful + [bad for bad, _ in unreadable]],
        )
        await charger_commands.fail_in_doubt(session, doubtful, utcnow())
        await charger_commands.fail_unreadable(session, unreadable, utcnow())
        # A sync reads the tokens now, as it goes out, so that it carries every change.
        plans = {
            row.command_id: await local_lists.plan(session, row.charge_point_id)
            for row in needed
            if row.action is ChargerAction.SEND_LOCAL_LIST
        }
        limit_a = self._rt.settings.tx_profile_limit_a
        claims = [
            Claim(
                command_id=row.command_id,
                charge_point_id=row.charge_point_id,
                epoch=row.epoch,
                order=_order(row, limit_a, plans.get(row.command_id), params[row.command_id]),
                queue_uuid=row.queue_uuid,
            )
            for row in needed
        ]
        return claims, unreadable

    async def _deliver(self, claim: Claim) -> None:
        outcome: Reply | str
        order = claim.order
        reconciling = order.action is TransactionAction.RECONCILE
        if reconciling:
            self._rt.node.reconciling.add((claim.charge_point_id, order.on_port))
        try:
            outcome = await self._link.execute(claim.charge_point_id, claim.epoch, order)
        except NotDelivered as exc:
            outcome = str(exc)
        except Exception:
            log.exception("sending a command failed", extra={"command_id": claim.command_id})
            outcome = "internal error while sending"
        if reconciling and not (isinstance(outcome, Reply) and outcome.accepted):
            # No status report is coming, so a later one is not the answer to this question.
            self._rt.node.reconciling.discard((claim.charge_point_id, order.on_port))
        await self._record(claim, outcome)

    async def _record(self, claim: Claim, outcome: Reply | str) -> None:
        """Returns once this answer is written. Group-committed: a burst of answers (an expiry
        wave) costs a few commits, not one each."""
        order = claim.order
        expires_at = None if order.transaction is None else order.transaction.expires_at
        if (
            order.action is TransactionAction.STOP
            and isinstance(outcome, Reply)
            and expires_at is not None
            and expires_at <= order.issued_at
        ):
            EXPIRY_DELAY.observe((utcnow() - expires_at).total_seconds())
        try:
            await self._answers.add((claim, outcome))
        except DeadLetter:
            if isinstance(outcome, str):
                # Not even "undelivered" could be written: the command stays claimed by this
                # node, unsent, until it restarts (release_node_claims).
                log.error("a command's outcome was lost", extra={"command_id": claim.command_id})
                return
            # The answer cannot be stored (the group commit dropped it rather than retry it for
            # ever): the command goes the way of one whose answer never came, resent or failed.
            await self._record(claim, UNSTORABLE_ANSWER)

    async def _write(self, batch: list[tuple[Claim, Reply | str]]) -> None:
        async with self._rt.sessions() as session, session.begin():
            await command_answers.write(session, batch, utcnow(), self._rt.settings)
        if any(claim.order.action in _BALANCED for claim, _ in batch):
            self._rt.bus.wake(Topic.BALANCE)

    async def finish_in_flight(self, timeout: float) -> None:
        """Let commands already being sent get their answers (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)


def claim_lease(settings: Settings, now: datetime) -> Lease:
    """This node's claim on commands it sends: long enough for an answer to come and be
    written (past it, another node may send them again)."""
    return Lease(settings.node_id, now + timedelta(seconds=settings.call_timeout_s * 2))


def _log_unreadable(unreadable: list[tuple[Claimed, str]]) -> None:
    for row, why in unreadable:
        log.error(
            "a stored command's params do not parse: it fails, unsent",
            extra={"command_id": row.command_id, "action": row.action, "why": why},
        )


def _unsafe_again(row: Claimed) -> bool:
    """A command on a charger that may have been carried out already (sent before a crash, no
    answer recorded) and that is not the same done twice: it fails rather than go again."""
    action = row.action
    return row.in_doubt and isinstance(action, ChargerAction) and not idempotent(action)


def _still_needed(row: Claimed) -> bool:
    """A start is only sent for a pending transaction, the rest only for an open one; a command
    on a charger is always sent, and so is one on a reservation (an ended reservation withdraws
    its commands: reservation_outcomes)."""
    action = row.action
    if isinstance(action, ChargerAction | ReservationAction):
        return True
    assert row.transaction is not None
    state = row.transaction.state
    match action:
        case TransactionAction.START:
            return state == TransactionState.PENDING
        case TransactionAction.PROFILE:
            transaction = row.transaction
            return fail_safe.unsent(state, transaction.profile_until, transaction.expires_at)
        case TransactionAction.STOP | TransactionAction.RECONCILE:
            return state == TransactionState.OPEN
        case _:
            assert_never(action)


def _read_params(
    rows: list[Claimed],
) -> tuple[dict[int, CommandParams], list[tuple[Claimed, str]]]:
    """Each row's params by command, and the rows whose stored params do not parse, with why."""
    params: dict[int, CommandParams] = {}
    unreadable: list[tuple[Claimed, str]] = []
    for row in rows:
        if not isinstance(row.action, ChargerAction):
            params[row.command_id] = None
            continue
        try:
            params[row.command_id] = from_json(row.action, row.params)
        except InvalidArgument as exc:
            unreadable.append((row, exc.message))
    return params, unreadable


def _order(row: Claimed, limit_a: float, local_list: Plan | None, params: CommandParams) -> Order:
    action, transaction, reservation = row.action, row.transaction, row.reservation
    return Order(
        action=action,
        issued_at=utcnow(),
        connector_id=row.connector_id,
        local_list=local_list,
        params=params,
        command_id=row.command_id,
        transaction=None
        if transaction is None
        else TransactionOrder(
            id=transaction.id,
            id_tag=transaction.id_tag,
            charger_transaction_id=transaction.charger_transaction_id,
            expires_at=transaction.expires_at,
            fail_safe=fail_safe.carried(row.action, row.smart_charging, transaction.expires_at),
            # Under a site the fail-safe carries the balancer's allocation (0 A at a start:
            # the session waits until the balancer has lowered the others to make room).
            fail_safe_limit_a=limit_a
            if transaction.allocated_a is None
            else transaction.allocated_a,
            limit=transaction.limit,
        ),
        reservation=None
        if reservation is None
        else ReservationOrder(
            id=reservation.id,
            id_tag=reservation.id_tag,
            parent_id_tag=reservation.parent_id_tag,
            token_type=reservation.token_type,
            expires_at=reservation.expires_at,
        ),
    )
