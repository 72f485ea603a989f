"""Reading a queue item; in staging, `stg_input` decides its outcome."""

from __future__ import annotations

from chargegate.domain.errors import NotFound
from chargegate.domain.states import QueueKind, QueueStatus, ReservationAction, StagingInput
from chargegate.domain.times import utcnow
from chargegate.domain.validation import QueueRequest
from chargegate.services import outcomes, reservation_outcomes
from chargegate.services.runtime import Runtime
from chargegate.services.views import QueueItemView, queue_item_view
from chargegate.store import commands as command_store
from chargegate.store import queue_items as queue_store

STAGING_FAILURE = "Staging: failure simulated by stg_input=Failure; no charger was contacted"


async def inspect(
    rt: Runtime, operator_id: int, queue_uuid: str, request: QueueRequest
) -> QueueItemView:
    # Apps poll queue items: the common case is a read, which never waits for the writer.
    resolves = request.staging and request.staging_input not in (None, StagingInput.IN_PROGRESS)
    now = utcnow()
    async with (rt.sessions if resolves else rt.reads)() as session, session.begin():
        found = await queue_store.queue_item_and_transaction(
            session, operator_id, queue_uuid, request.staging
        )
        if found is None:
            raise NotFound(f"Queue item {queue_uuid} not found")
        item, transaction = found
        succeed = request.staging_input is StagingInput.SUCCESS
        resolving = resolves and item.status == QueueStatus.IN_PROGRESS
        if item.transaction_id is None:
            command = await command_store.for_queue_item(session, item.queue_uuid)
            if resolving:
                status = QueueStatus.SUCCESS if succeed else QueueStatus.FAILURE
                reason = None if succeed else STAGING_FAILURE
                await outcomes.resolve(session, item, status, now, reason)
                if command is not None and isinstance(command.action, ReservationAction):
                    await reservation_outcomes.answered(
                        session, command, command.action, succeed, STAGING_FAILURE, now
                    )
            return queue_item_view(item, None, command)
        if transaction is None:
            raise NotFound(f"Queue item {queue_uuid} has no transaction")
        if resolving:
            if item.kind == QueueKind.START:
                if succeed:
                    await outcomes.open_transaction(session, transaction, now, None, now)
                else:
                    await outcomes.fail_start(session, transaction, STAGING_FAILURE, now)
            elif succeed:
                await outcomes.close_transaction(session, transaction, now, None, "api", now)
            else:
                await outcomes.resolve(session, item, QueueStatus.FAILURE, now, STAGING_FAILURE)
        return queue_item_view(item, transaction, None)
