"""Charging profiles the operator sets: what a command needs from the database before it goes
out (a TxProfile names the port's running transaction as the charger knows it), the profiles
kept once a charger took them (listed per charger, re-sent after each boot, forgotten when
cleared). docs/smart-charging.md."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.domain.charging_profiles import (
    BALANCER_STACK_LEVEL,
    START_STACK_LEVEL,
    ClearProfileParams,
    Purpose,
    SetProfileParams,
)
from chargegate.domain.command_params import OCPP16, CommandParams, to_json
from chargegate.domain.cursors import RowMark
from chargegate.domain.errors import Conflict
from chargegate.domain.fleet import WebhooksRequest
from chargegate.domain.states import ChargerAction
from chargegate.domain.times import utcnow
from chargegate.services import fail_safe, operator_chargers
from chargegate.services.commands import Order, Reply
from chargegate.services.listing import Listing, by_row_id, open_listing
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import charging_profiles as profile_store
from chargegate.store import commands as command_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Charger, ChargingProfile, Command, Transaction

log = logging.getLogger(__name__)


async def _running(
    session: AsyncSession, charger: Charger, connector_id: int
) -> tuple[Transaction, str] | None:
    """The transaction running on a port, and how a TxProfile names it (1.6: our id, 2.0.1:
    the charger's); None when none runs (or the charger has not named it yet)."""
    ports = await charger_store.charger_ports(session, charger.id)
    port = next((p for p in ports if p.connector_id == connector_id), None)
    transaction = None if port is None else await tx_store.open_on_port(session, port.port_uuid)
    if transaction is None:
        return None
    v16 = charger.ocpp_version == OCPP16
    named = str(transaction.id) if v16 else transaction.charger_transaction_id
    return None if named is None else (transaction, named)


async def with_transaction(
    session: AsyncSession, charger: Charger, params: CommandParams
) -> CommandParams:
    """A TxProfile without a transaction_id gets the one running on its port (1.6: our id,
    2.0.1: the charger's); Conflict when none runs, as the charger would refuse it."""
    if (
        not isinstance(params, SetProfileParams)
        or params.purpose is not Purpose.TX
        or params.transaction_id is not None
    ):
        return params
    running = await _running(session, charger, params.port)
    if running is None:
        raise Conflict(
            f"Port {params.port} of charger {charger.charge_point_id} has no running "
            "transaction: a TxProfile is for one (start a transaction, or set a "
            "TxDefaultProfile)"
        )
    transaction, named = running
    # It ends at the session's expiry, where the start's fail-safe cut (below it) takes over.
    valid_to = params.valid_to or transaction.expires_at
    return replace(params, transaction_id=named, valid_to=valid_to)


@dataclass(frozen=True, slots=True)
class ProfileView:
    profile_id: int
    port: int
    purpose: str
    stack_level: int
    params: dict[str, Any]
    set_at: datetime


def _view(row: ChargingProfile) -> ProfileView:
    return ProfileView(
        row.profile_id, row.port, row.purpose, row.stack_level, dict(row.params), row.set_at
    )


# Purposes kept and re-sent: a TxProfile lasts only as long as its transaction.
_KEPT = frozenset({Purpose.CHARGE_POINT_MAX, Purpose.CHARGING_STATION_MAX, Purpose.TX_DEFAULT})


async def answered(session: AsyncSession, command: Command, order: Order, reply: Reply) -> None:
    """What the charger's answer to a profile command changes in the profiles we keep."""
    if not reply.accepted:
        await _refused(session, command, order.params, reply)
        return
    params = order.params
    if isinstance(params, SetProfileParams) and params.purpose in _KEPT:
        profile_id = params.profile_id or order.command_id
        stored = to_json(replace(params, profile_id=profile_id)) or {}
        await profile_store.keep(session, command.charger_id, profile_id, params, stored, utcnow())
    elif isinstance(params, ClearProfileParams):
        await profile_store.forget(session, command.charger_id, params)
        if params.purpose in (None, Purpose.TX) and params.stack_level in (
            None,
            START_STACK_LEVEL,
        ):
            await fail_safe.cleared(session, command.charger_id, params.profile_id, utcnow())


async def resend(rt: Runtime, charge_point_id: str, smart_charging: bool) -> None:
    """After a boot: the charger may have lost its profiles (a reboot; many keep none), and it
    cannot be asked which it holds in 1.6, so the ones we keep go out again. One sent again
    under its own id replaces itself, so a charger that kept them is none the worse."""
    if not smart_charging:
        return
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        kept = await profile_store.of_charger(session, charger.id)
        for row in kept:
            command_store.add_command(
                session,
                charger_id=charger.id,
                action=ChargerAction.SET_CHARGING_PROFILE,
                now=utcnow(),
                params=row.params,
            )
    if kept:
        rt.bus.wake(Topic.DISPATCH)


async def listing(
    rt: Runtime, operator_id: int, charge_point_id: str, request: WebhooksRequest
) -> Listing[ChargingProfile, ProfileView, RowMark]:
    """One of the operator's chargers' profiles, newest id first (NotFound for another's)."""
    async with rt.reads() as session:
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
    charger_id = charger.id

    keyset = by_row_id(
        profile_store.listed,
        profile_store.page_end,
        charger_id,
        lambda row: row.profile_id,
        request.after,
        request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, _view)


async def _refused(
    session: AsyncSession, command: Command, params: CommandParams, reply: Reply
) -> None:
    """A charger that refuses the site balancer's TxProfile for the transaction it runs cannot
    take profiles, whatever it reported: until it boots again (and is asked again) the balancer
    counts its sessions at their maximum rather than at a share it does not apply."""
    if (
        not isinstance(params, SetProfileParams)
        or params.purpose is not Purpose.TX
        or params.stack_level != BALANCER_STACK_LEVEL
    ):
        return
    charger = await session.get(Charger, command.charger_id)
    if charger is None or not charger.smart_charging:
        return
    running = await _running(session, charger, params.port)
    if running is not None and running[1] == params.transaction_id:
        charger.smart_charging = False
        log.warning(
            "charger %s refused the site allocation (%s): counted at its maximum until it "
            "boots again",
            charger.charge_point_id,
            reply.detail,
        )
