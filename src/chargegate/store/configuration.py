"""Chargers' configuration as last read (configuration_keys), and the parts of 2.0.1 reports
still coming (report_parts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.configuration import ConfigEntry
from chargegate.domain.states import ChargerAction
from chargegate.store.models import Charger, Command, ConfigurationKey, ReportPart


async def keys(
    session: AsyncSession, charger_id: int, names: Iterable[str] | None = None
) -> Sequence[ConfigurationKey]:
    """The charger's keys held, by name (None: all of them)."""
    statement = select(ConfigurationKey).where(ConfigurationKey.charger_id == charger_id)
    if names is not None:
        statement = statement.where(ConfigurationKey.key.in_(list(names)))
    return (await session.scalars(statement.order_by(ConfigurationKey.key))).all()


async def forget(session: AsyncSession, charger_id: int, names: Iterable[str] | None) -> None:
    """Drops these keys (None: all of the charger's)."""
    statement = delete(ConfigurationKey).where(ConfigurationKey.charger_id == charger_id)
    if names is not None:
        statement = statement.where(ConfigurationKey.key.in_(list(names)))
    await session.execute(statement)


def add(
    session: AsyncSession, charger_id: int, entries: Iterable[ConfigEntry], now: datetime
) -> None:
    """Keys not held (forget them first)."""
    session.add_all(
        ConfigurationKey(
            charger_id=charger_id,
            key=entry.key,
            value=entry.value,
            readonly=entry.readonly,
            read_at=now,
        )
        for entry in entries
    )


async def report_command(
    session: AsyncSession, charge_point_id: str, command_id: int
) -> Command | None:
    """The get_configuration of this charger that a NotifyReport's requestId names."""
    return await session.scalar(
        select(Command)
        .join(Charger, Charger.id == Command.charger_id)
        .where(
            Command.id == command_id,
            Charger.charge_point_id == charge_point_id,
            Command.action == ChargerAction.GET_CONFIGURATION,
        )
    )


async def put_part(
    session: AsyncSession,
    command_id: int,
    seq_no: int,
    tbc: bool,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """A part; one sent again (the request went out again after a reconnect) replaces it."""
    await session.execute(
        delete(ReportPart).where(ReportPart.command_id == command_id, ReportPart.seq_no == seq_no)
    )
    session.add(
        ReportPart(command_id=command_id, seq_no=seq_no, tbc=tbc, data=data, received_at=now)
    )
    await session.flush()


async def parts(session: AsyncSession, command_id: int) -> Sequence[ReportPart]:
    return (
        await session.scalars(
            select(ReportPart)
            .where(ReportPart.command_id == command_id)
            .order_by(ReportPart.seq_no)
        )
    ).all()


async def drop_parts(session: AsyncSession, command_id: int) -> None:
    await session.execute(delete(ReportPart).where(ReportPart.command_id == command_id))
