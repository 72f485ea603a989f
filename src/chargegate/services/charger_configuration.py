"""A charger's configuration as last read: by a get_configuration command, or by our own
question after each boot (ocpp/*/orders.probe); a change_configuration the charger took updates
it. A 2.0.1 read of everything is a report in NotifyReport parts, kept as they come and made the
command's one answer when the last has come."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.configuration import (
    ChangeConfigurationParams,
    ConfigEntry,
    ConfigRead,
    GetConfigurationParams,
)
from chargegate.domain.states import ChargerAction, CommandStatus, QueueStatus
from chargegate.domain.times import utcnow
from chargegate.services import operator_chargers, outcomes
from chargegate.services.commands import Order, Reply
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import configuration as config_store
from chargegate.store.models import Command, QueueItem


@dataclass(frozen=True, slots=True)
class KeyView:
    key: str
    value: str | None
    readonly: bool | None
    read_at: datetime


@dataclass(frozen=True, slots=True)
class ReportPart:
    """One NotifyReport of a report we asked for (its requestId is the command's id)."""

    request_id: int
    seq_no: int
    tbc: bool
    # The charger's words (the result shows them), and the variables they hold.
    report_data: list[dict[str, Any]]
    entries: tuple[ConfigEntry, ...]


async def cached(session: AsyncSession, charger_id: int) -> list[KeyView]:
    """The charger's keys as last read, by key."""
    return [
        KeyView(row.key, row.value, row.readonly, row.read_at)
        for row in await config_store.keys(session, charger_id)
    ]


async def view(rt: Runtime, operator_id: int, charge_point_id: str) -> list[KeyView]:
    operator_chargers.check(charge_point_id)
    async with rt.reads() as session:
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        return await cached(session, charger.id)


async def read(
    session: AsyncSession,
    charger_id: int,
    configuration: ConfigRead,
    everything: bool,
    now: datetime,
) -> None:
    """A read replaces all the keys held (everything read) or those it names: a key the
    charger says it does not have is forgotten."""
    entries = {entry.key: entry for entry in configuration.entries}
    await config_store.forget(
        session, charger_id, None if everything else [*entries, *configuration.unknown]
    )
    config_store.add(session, charger_id, entries.values(), now)


async def probed(rt: Runtime, charge_point_id: str, configuration: ConfigRead) -> None:
    """What our own question after boot read."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        await read(session, charger.id, configuration, everything=False, now=utcnow())


async def answered(
    session: AsyncSession,
    command: Command,
    order: Order,
    reply: Reply,
    now: datetime,
    wait_s: float,
) -> bool:
    """What a configuration command's answer changes in the cache; True if its queue item waits
    for a report still to come (the last part resolves it; none within wait_s fails it)."""
    params = order.params
    if isinstance(params, GetConfigurationParams) and reply.configuration is not None:
        await read(session, command.charger_id, reply.configuration, params.keys is None, now)
    if isinstance(params, ChangeConfigurationParams) and reply.answer is not None:
        refused = reply.refused_keys
        if refused is None:
            await _changed(
                session, command.charger_id, params.values if reply.accepted else {}, now
            )
        else:
            taken = {key: value for key, value in params.values.items() if key not in refused}
            await _changed(session, command.charger_id, taken, now)
    if not reply.report_coming or command.queue_uuid is None:
        return False
    item = await session.get(QueueItem, command.queue_uuid, with_for_update=True)
    if item is not None and item.status == QueueStatus.IN_PROGRESS:
        item.deadline_at = now + timedelta(seconds=wait_s)
        await _complete(session, command, item, now)
    return True


async def _changed(
    session: AsyncSession, charger_id: int, values: dict[str, str], now: datetime
) -> None:
    if not values:
        return
    held = {row.key: row for row in await config_store.keys(session, charger_id, values)}
    for key, value in values.items():
        row = held.get(key)
        if row is None:
            # Set, so not read-only.
            config_store.add(session, charger_id, [ConfigEntry(key, value, False)], now)
        else:
            row.value, row.read_at = value, now


async def report_part(rt: Runtime, charge_point_id: str, part: ReportPart) -> None:
    """A NotifyReport: kept if it belongs to a report this charger was asked for and that is
    still awaited (others, such as a station's unsolicited report, are only acknowledged)."""
    if not 0 < part.request_id < 2**31:
        return  # no command of ours has that number (a station's own report may say 0)
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        command = await config_store.report_command(session, charge_point_id, part.request_id)
        if command is None or command.queue_uuid is None:
            return
        # The queue item first, as an answer's write takes it (command_answers.write).
        item = await session.get(QueueItem, command.queue_uuid, with_for_update=True)
        if item is None or item.status != QueueStatus.IN_PROGRESS:
            return
        # Its answer may have been written while we waited for the item.
        await session.refresh(command)
        data = {
            "reportData": part.report_data,
            "entries": [[e.key, e.value, e.readonly] for e in part.entries],
        }
        await config_store.put_part(session, command.id, part.seq_no, part.tbc, data, now)
        item.deadline_at = now + timedelta(seconds=rt.settings.command_timeout_s)
        await _complete(session, command, item, now)


async def _complete(
    session: AsyncSession, command: Command, item: QueueItem, now: datetime
) -> None:
    """Once the request's answer is written and every part has come (0 to the one that says no
    more follow), the report is the command's answer and the cache's whole content."""
    if not report_awaited(command):
        return
    parts = await config_store.parts(session, command.id)
    if not parts or parts[-1].tbc or [part.seq_no for part in parts] != list(range(len(parts))):
        return
    report_data = [entry for part in parts for entry in part.data["reportData"]]
    entries = tuple(
        ConfigEntry(key, value, readonly)
        for part in parts
        for key, value, readonly in part.data["entries"]
    )
    command.answer = {**(command.answer or {}), "reportData": report_data}
    await read(session, command.charger_id, ConfigRead(entries), everything=True, now=now)
    await config_store.drop_parts(session, command.id)
    await outcomes.resolve(session, item, QueueStatus.SUCCESS, now)


def report_awaited(command: Command) -> bool:
    """A get_configuration answered whose queue item is still open: a 2.0.1 report is coming."""
    return (
        command.action == ChargerAction.GET_CONFIGURATION and command.status == CommandStatus.DONE
    )


async def abandoned(session: AsyncSession, command: Command) -> None:
    """A report that stopped coming: its parts go."""
    await config_store.drop_parts(session, command.id)
