"""Commands an operator sends to a charger through the API (ClearCache, ...): each goes into
the outbox, and its queue item says how it ended."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.charging_profiles import Purpose, SetProfileParams, check_operators
from chargegate.domain.command_params import CommandParams, check_version, to_json
from chargegate.domain.errors import Conflict
from chargegate.domain.states import (
    ChargerAction,
    CommandStatus,
    QueueKind,
    QueueStatus,
    ReservationAction,
)
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.validation import CommandRequest
from chargegate.services import (
    charger_configuration,
    charging_profiles,
    idempotency,
    local_lists,
    operator_chargers,
    outcomes,
    reservation_outcomes,
)
from chargegate.services.commands import offline_reason
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.runtime import Runtime
from chargegate.services.views import QueuedView
from chargegate.store import commands as command_store
from chargegate.store import queue_items as queue_store
from chargegate.store import sites as site_store
from chargegate.store.claims import Claimed
from chargegate.store.models import Charger, Command, QueueItem

STAGING_RESULT = "Staging: no charger was contacted"


async def send(
    rt: Runtime,
    operator_id: int,
    charge_point_id: str,
    request: CommandRequest,
    once: Idempotency[QueuedView] | None = None,
) -> QueuedView | Earlier:
    """The queue item that follows the command (which waits for an offline charger); or, sent
    again with its Idempotency-Key, the request that sent it."""
    operator_chargers.check(charge_point_id)
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        check_version(request.action, request.params, charger.ocpp_version)
        await _check_profile(session, charger.id, request.params)
        params = await charging_profiles.with_transaction(session, charger, request.params)
        item = await enqueue(
            session,
            rt,
            charger,
            request.action,
            request.staging,
            now,
            "the command",
            params=to_json(params),
            expires_at=request.expires,
            waits=True,
        )
        online = charger.connected_node is not None
        if request.action is ChargerAction.SEND_LOCAL_LIST and online and not request.staging:
            await local_lists.resend_requested(session, charger.id)
        queued = QueuedView(item.queue_uuid)
        await claim.answered(queued)
    rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)
    return queued


async def _check_profile(session: AsyncSession, charger_id: int, params: CommandParams) -> None:
    """An operator's TxProfile: above chargegate's own, and none for a port on a site, whose
    balancer alone sets its sessions' TxProfiles (an operator's, a level above, would let a
    session draw more than its share of the site's limit)."""
    if not isinstance(params, SetProfileParams) or params.purpose is not Purpose.TX:
        return
    check_operators(params)
    if await site_store.connector_under_a_site(session, charger_id, params.port):
        raise Conflict(
            f"port {params.port} is on a site: its balancer sets its sessions' TxProfiles; "
            "limit a session with max_current_a or max_power_w at its start, or lower the site's"
            " limit"
        )


async def enqueue(
    session: AsyncSession,
    rt: Runtime,
    charger: Charger,
    action: ChargerAction | ReservationAction,
    staging: bool,
    now: datetime,
    what: str,
    *,
    connector_id: int | None = None,
    reservation_id: int | None = None,
    params: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    waits: bool = False,
) -> QueueItem:
    """A command for the charger in the outbox and the queue item that follows it, never sent
    in staging. If the charger is offline it fails at once (saying that `what` was not sent),
    unless it `waits` for the charger to come back: until expires_at, or else the command
    timeout, as long as one that is sent may take to be answered."""
    item = QueueItem(
        queue_uuid=str(uuid.uuid4()),
        operator_id=charger.operator_id,
        kind=QueueKind.COMMAND,
        staging=staging,
        status=QueueStatus.IN_PROGRESS,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    command = command_store.add_command(
        session,
        charger_id=charger.id,
        action=action,
        now=now,
        connector_id=connector_id,
        queue_uuid=item.queue_uuid,
        reservation_id=reservation_id,
        params=params,
        expires_at=expires_at,
    )
    if staging:
        # Kept so the queue item can name its command; never sent.
        command.status, command.result = CommandStatus.CANCELLED, STAGING_RESULT
    elif charger.connected_node is None and not waits:
        await _give_up(session, item, command, now, offline_reason(charger.charge_point_id, what))
    else:
        item.deadline_at = expires_at or now + timedelta(seconds=rt.settings.command_timeout_s)
    await session.flush()
    return item


async def fail_overdue(session: AsyncSession, now: datetime, timeout_s: float) -> None:
    """Commands not answered in time (their charger went offline, or never answered): their
    queue items fail, and what is still in the outbox will not go out."""
    items = await queue_store.overdue_commands(session, now)
    commands = await command_store.for_queue_items(session, [item.queue_uuid for item in items])
    for item in items:
        command, charge_point_id = commands.get(item.queue_uuid, (None, None))
        if command is not None and charger_configuration.report_awaited(command):
            await charger_configuration.abandoned(session, command)
        reason = _why_overdue(command, charge_point_id, timeout_s)
        await _give_up(session, item, command, now, reason)


def _why_overdue(command: Command | None, charge_point_id: str | None, timeout_s: float) -> str:
    """What the queue item of a command past its deadline says."""
    when = (
        f"within {timeout_s:g} s"
        if command is None or command.expires_at is None
        else f"by {format_api(command.expires_at)} (its expires)"
    )
    if command is not None and charger_configuration.report_awaited(command):
        return f"The charger's report stopped coming: no further part within {timeout_s:g} s"
    elif command is not None and command.attempts == 0:
        return (
            f"Charger {charge_point_id} was offline (not connected to chargegate) "
            f"and did not come back {when}, so the command was not sent"
        )
    else:
        return f"The charger did not answer the command {when} (it went offline or did not answer)"


async def fail_in_doubt(session: AsyncSession, claimed: Sequence[Claimed], now: datetime) -> None:
    """Commands sent before a crash, whose answer never came, and which are not the same done
    twice (domain.command_params.idempotent): their queue items fail, saying so."""
    await _fail_unsent(
        session,
        [
            (
                row,
                f"chargegate went down while {row.action} was being sent to charger "
                f"{row.charge_point_id}, before its answer came: it may or may not have been "
                f"carried out. It is not sent again, since {row.action} twice is not the same as "
                "once; check the charger before sending it again",
            )
            for row in claimed
        ],
        now,
    )


async def fail_unreadable(
    session: AsyncSession, unreadable: Sequence[tuple[Claimed, str]], now: datetime
) -> None:
    """Commands whose stored params no longer parse (`why`): never sent, their queue items
    fail, saying so."""
    await _fail_unsent(
        session,
        [
            (
                row,
                f"{row.action} was not sent to charger {row.charge_point_id}: its stored params "
                f"no longer parse ({why})",
            )
            for row, why in unreadable
        ],
        now,
    )


async def _fail_unsent(
    session: AsyncSession, failing: Sequence[tuple[Claimed, str]], now: datetime
) -> None:
    """Each command's queue item fails with its reason; one whose item another write holds
    (its deadline failing it) is left to that write."""
    for row, reason in failing:
        if row.queue_uuid is None:
            continue
        item = await queue_store.lock_if_free(session, row.queue_uuid)
        if item is None or item.status != QueueStatus.IN_PROGRESS:
            continue
        await outcomes.resolve(session, item, QueueStatus.FAILURE, now, reason)


async def _give_up(
    session: AsyncSession, item: QueueItem, command: Command | None, now: datetime, reason: str
) -> None:
    """The queue item fails, and a command still in the outbox will not go out (one being sent
    gets its answer recorded, which no longer changes the item)."""
    if command is not None and command.status == CommandStatus.PENDING:
        command.status = CommandStatus.CANCELLED
    await outcomes.resolve(session, item, QueueStatus.FAILURE, now, reason)
    if command is not None:
        await reservation_outcomes.undelivered(session, command, reason, now)
