"""The scheduler's pass when nothing is due (the common case: every API start, command and
charger start/stop report wakes it): CPU per pass, and how many write transactions the passes
opened on the writer engine (on SQLite the one connection every other write queues for).

The real Scheduler of the code on sys.path (PYTHONPATH=<a worktree>/src compares another
version) against a real database holding --sessions open transactions, none of them due;
process CPU (the event loop and aiosqlite's threads) over --passes passes run back to back.

    .venv/bin/python bench/scheduler_idle.py [--database sqlite|postgresql] [--passes 2000]
        [--sessions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from common import database, provision
from sqlalchemy import event, select

from chargegate.bus.local import LocalBus
from chargegate.config import Settings
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services.runtime import NodeState, Runtime
from chargegate.services.scheduler import Scheduler
from chargegate.store.database import create_engine, create_reader, session_factory
from chargegate.store.models import Operator, Transaction


async def open_sessions(url: str, count: int) -> None:
    """`count` open transactions expiring in an hour, one per port."""
    _, ports = await provision(url, f"SCH-{uuid.uuid4().hex[:4]}-", count, 1)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            operator_id = await session.scalar(select(Operator.id).where(Operator.name == "bench"))
            assert operator_id is not None
            now = utcnow()
            session.add_all(
                Transaction(
                    transaction_uuid=str(uuid.uuid4()),
                    operator_id=operator_id,
                    port_uuid=port_uuid,
                    state=TransactionState.OPEN,
                    id_tag=f"TAG{n}",
                    created_at=now,
                    started_at=now,
                    expires_at=now + timedelta(hours=1),
                )
                for n, port_uuid in enumerate(ports)
            )
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        async with database(args.database, Path(workdir)) as url:
            await open_sessions(url, args.sessions)
            writer = create_engine(url)
            reader = create_reader(url, writer)
            writes = 0

            def _begun(_connection: Any) -> None:
                nonlocal writes
                writes += 1

            event.listen(writer.sync_engine, "begin", _begun)
            # The scheduler reads only started_at of the node: no other part of it runs here.
            node = cast(NodeState, SimpleNamespace(started_at=utcnow() - timedelta(hours=1)))
            runtime = Runtime(
                settings=Settings(database_url=url),
                sessions=session_factory(writer),
                reads=session_factory(reader),
                bus=LocalBus(),
                node=node,
            )
            scheduler = Scheduler(runtime)
            for _ in range(50):  # warm-up: statement caches, connections
                await scheduler.tick()
            writes = 0
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.passes):
                await scheduler.tick()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await reader.dispose()
            await writer.dispose()
    print(
        f"{args.database}, {args.sessions} open sessions, {args.passes} passes: "
        f"CPU {cpu / args.passes * 1e6:.0f} us/pass, wall {wall / args.passes * 1e6:.0f} us/pass"
        # On PostgreSQL the reader is the writer's pool: its begins are reads' too.
        + (f", write transactions opened: {writes}" if args.database == "sqlite" else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--passes", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=1000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
