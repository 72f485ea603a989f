"""The CPU of writing one group-committed batch of stop reports (services.stop_writes).

Sets up --count open sessions on OCPP 1.6 chargers, each with its stop asked for (an in-progress
STOP queue item and an outstanding STOP command), like an expiry wave's, then writes one batch of
their StopTransactions and times it: process CPU and wall clock. Some of the batch are stops for
sessions we already closed, for unknown transactions and repeats, as in a real wave. Prints a
digest of what the batch wrote (states, queue items, commands, webhook deliveries, without their
times, uuids and event ids), equal for two implementations that write the same.

    .venv/bin/python bench/stop_writes.py [--count 5000] [--webhooks 2] [--database sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from common import database, provision
from sqlalchemy import select

from chargegate.domain.reports import StopReport
from chargegate.domain.states import (
    CommandStatus,
    QueueKind,
    QueueStatus,
    StopState,
    TransactionAction,
    TransactionState,
)
from chargegate.domain.times import utcnow
from chargegate.services.stop_writes import write_stops
from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import (
    Charger,
    Command,
    Port,
    QueueItem,
    Transaction,
    Webhook,
    WebhookDelivery,
)

PREFIX = "SW-"


async def seed(url: str, count: int, webhooks: int) -> list[StopReport]:
    """The sessions, and the batch of stops their chargers report."""
    await provision(url, PREFIX, -(-count // 2), 2)
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = utcnow()
    try:
        async with sessions() as session, session.begin():
            rows = (await session.execute(select(Charger, Port).join(Port))).all()
            operator_id = rows[0][0].operator_id
            for n in range(webhooks):
                session.add(
                    Webhook(
                        operator_id=operator_id,
                        url=f"http://127.0.0.1:9/{n}",
                        secret="whsec_bench",
                        created_at=now,
                    )
                )
            placed = []
            for n, (charger, port) in enumerate(rows[:count]):
                # Every 50th was closed by us already (the operator gave up on its stop).
                closed = n % 50 == 7
                transaction = Transaction(
                    transaction_uuid=str(uuid.uuid4()),
                    operator_id=operator_id,
                    port_uuid=port.port_uuid,
                    state=TransactionState.CLOSED if closed else TransactionState.OPEN,
                    id_tag=f"T{n}",
                    created_at=now - timedelta(hours=1),
                    started_at=now - timedelta(hours=1),
                    ended_at=now - timedelta(minutes=1) if closed else None,
                    stop_reason="abandoned" if closed else None,
                    expires_at=now,
                    stop_requested_at=now,
                    stop_state=None if closed else StopState.ACCEPTED,
                    meter_start_wh=100,
                    meter_last_wh=200,
                )
                session.add(transaction)
                placed.append((charger, transaction, closed))
            await session.flush()
            items = []
            for _, transaction, closed in placed:
                queue_uuid = str(uuid.uuid4())
                items.append(queue_uuid)
                session.add(
                    QueueItem(
                        queue_uuid=queue_uuid,
                        operator_id=operator_id,
                        transaction_id=transaction.id,
                        kind=QueueKind.STOP,
                        status=QueueStatus.FAILURE if closed else QueueStatus.IN_PROGRESS,
                        created_at=now,
                    )
                )
            await session.flush()  # the commands name their queue items
            for (charger, transaction, closed), queue_uuid in zip(placed, items, strict=True):
                session.add(
                    Command(
                        charger_id=charger.id,
                        transaction_id=transaction.id,
                        queue_uuid=queue_uuid,
                        action=TransactionAction.STOP,
                        status=CommandStatus.DONE if closed else CommandStatus.SENDING,
                        created_at=now,
                    )
                )
            stops = [
                StopReport(charger.charge_point_id, transaction.id, 1000 + n, now, "Remote")
                for n, (charger, transaction, _) in enumerate(placed)
            ]
    finally:
        await engine.dispose()
    # Repeats (a charger resending its StopTransaction) and stops for unknown transactions.
    stops += [stops[n] for n in range(3, len(stops), 100)]
    stops += [
        StopReport(stop.charge_point_id, 10**9 + n, 1, now, "Local")
        for n, stop in enumerate(stops[5::200])
    ]
    return stops


async def digest(url: str) -> str:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            transactions = await session.execute(
                select(
                    Transaction.id,
                    Transaction.state,
                    Transaction.ended_at,
                    Transaction.meter_stop_wh,
                    Transaction.meter_last_wh,
                    Transaction.stop_reason,
                    Transaction.charger_stop_reason,
                ).order_by(Transaction.id)
            )
            items = await session.execute(
                select(
                    QueueItem.transaction_id,
                    QueueItem.status,
                    QueueItem.reason,
                    QueueItem.resolved_at.is_(None),
                ).order_by(QueueItem.transaction_id)
            )
            commands = await session.execute(
                select(Command.id, Command.status).order_by(Command.id)
            )
            deliveries = (
                await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
            ).all()
    finally:
        await engine.dispose()
    events: dict[str, list[int]] = {}
    written = []
    for delivery in deliveries:
        events.setdefault(delivery.event_id, []).append(delivery.webhook_id)
        body = json.loads(delivery.body)
        assert body["id"] == delivery.event_id
        del body["id"], body["created"]
        written.append((delivery.webhook_id, delivery.event_type, delivery.ordering_key, body))
    text = json.dumps(
        [
            [list(map(str, row)) for row in transactions],
            [list(map(str, row)) for row in items],
            [list(map(str, row)) for row in commands],
            written,
            sorted(events.values()),
        ],
        sort_keys=True,
    )
    # The seed's times and uuids differ from run to run.
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?", "T", text)
    text = re.sub(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", "U", text)
    print(f"deliveries {len(deliveries)}, events {len(events)}")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def run(count: int, webhooks: int, kind: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="chargegate-stop-writes-"))
    async with database(kind, workdir) as url:
        stops = await seed(url, count, webhooks)
        engine = create_engine(url)
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            await write_stops(session_factory(engine), stops)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await engine.dispose()
        print(
            f"{kind}: batch of {len(stops)} stops ({count} sessions, {webhooks} webhooks): "
            f"CPU {cpu:.2f} s ({cpu / len(stops) * 1000:.3f} ms a stop), wall {wall:.2f} s"
        )
        print(f"digest {await digest(url)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--webhooks", type=int, default=2)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.count, args.webhooks, args.database))


if __name__ == "__main__":
    main()
