"""Chargers as their operator manages them: registered, listed, given a new password or other
ports, disabled, deleted. The API and the CLI (provisioning.py) both come here.

A disabled charger is refused at the handshake (after its credentials: only who knows them
learns that it is disabled) and sent away when connected, from whichever node holds it. A
deleted one is gone from the API and refused like an unknown id, while its past transactions
stay readable; its id stays taken, since they name it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError

from chargegate.domain.credentials import (
    INSECURE_NO_PASSWORD,
    hash_charger_password,
    new_charger_password,
)
from chargegate.domain.cursors import ChargerMark
from chargegate.domain.errors import Conflict
from chargegate.domain.fleet import BadChargerPassword, ChargerCreate, ChargerPatch, ChargersRequest
from chargegate.domain.times import utcnow
from chargegate.services import charger_configuration, operator_chargers
from chargegate.services.charger_configuration import KeyView
from chargegate.services.file_transfers import FileTransfersView, transfers_view
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import fleet as fleet_store
from chargegate.store.database import AsyncSession
from chargegate.store.fleet import ChargerRow
from chargegate.store.models import Charger, Port

_SUBPROTOCOL = "ocpp"


class AlreadyRegistered(Conflict):
    """The id is taken (by any operator: ids are global, and whose it is is not said)."""


@dataclass(frozen=True, slots=True)
class ChargerPortView:
    port_uuid: str
    connector_id: int
    status: str | None


@dataclass(frozen=True, slots=True)
class ChargerView:
    charge_point_id: str
    online: bool
    node: str | None
    last_seen: datetime | None
    # "1.6" or "2.0.1": the version last negotiated, and the one registered to prefer.
    ocpp_version: str | None
    ocpp_version_registered: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    feature_profiles: tuple[str, ...] | None
    file_transfers: FileTransfersView
    disabled: bool
    created: datetime
    ports: tuple[ChargerPortView, ...]
    # Only in the answer that set it (generated): it is kept hashed.
    password: str | None = field(default=None)
    # Only for one charger: its configuration as last read (services.charger_configuration).
    configuration: tuple[KeyView, ...] | None = None


def version_name(subprotocol: str | None) -> str | None:
    return None if subprotocol is None else subprotocol.removeprefix(_SUBPROTOCOL)


def charger_view(
    charger: Charger, ports: Sequence[Port], password: str | None = None
) -> ChargerView:
    profiles = charger.feature_profiles
    return ChargerView(
        charge_point_id=charger.charge_point_id,
        online=charger.connected_node is not None,
        node=charger.connected_node,
        last_seen=charger.last_seen_at,
        ocpp_version=version_name(charger.ocpp_version),
        ocpp_version_registered=version_name(charger.ocpp_protocol),
        vendor=charger.vendor,
        model=charger.model,
        serial_number=charger.serial_number,
        firmware_version=charger.firmware_version,
        feature_profiles=None if profiles is None else tuple(profiles),
        file_transfers=transfers_view(charger),
        disabled=charger.disabled,
        created=charger.created_at,
        ports=tuple(ChargerPortView(p.port_uuid, p.connector_id, p.status) for p in ports),
        password=password,
    )


def _row_view(row: ChargerRow) -> ChargerView:
    return charger_view(*row)


async def register(
    session: AsyncSession,
    operator_id: int,
    request: ChargerCreate,
    *,
    insecure_no_password: bool = False,
) -> ChargerView:
    """Register a charger and its ports. Without a password one is generated and shown in the
    view, once; a charger anyone may connect as takes `insecure_no_password` (the CLI's,
    asked for by name)."""
    if insecure_no_password and request.password is not None:
        raise BadChargerPassword("a password and --insecure-no-password exclude each other")
    chosen = request.password is not None or insecure_no_password
    generated = None if chosen else new_charger_password()
    secret = request.password or generated
    charge_point_id = request.charge_point_id
    taken = AlreadyRegistered(f"Charger {charge_point_id} is already registered")
    if await charger_store.get_charger(session, charge_point_id) is not None:
        raise taken
    try:
        # A savepoint: a registration of the same id at once inserts first, and this is then
        # the same refusal rather than an error of the whole transaction.
        async with session.begin_nested():
            charger = await charger_store.add_charger(
                session,
                charge_point_id=charge_point_id,
                operator_id=operator_id,
                password_hash=(
                    INSECURE_NO_PASSWORD if secret is None else hash_charger_password(secret)
                ),
                now=utcnow(),
            )
    except IntegrityError:
        raise taken from None
    if request.ocpp_version is not None:
        charger.ocpp_protocol = request.ocpp_version.subprotocol
    ports = [
        await charger_store.ensure_port(session, charger, connector_id)
        for connector_id in range(1, request.connectors + 1)
    ]
    return charger_view(charger, ports, generated)


def set_password(charger: Charger, password: str | None) -> str | None:
    """The charger's new password (None: a generated one, returned); the old one stops working
    at its next handshake (a socket open now stays open)."""
    secret = new_charger_password() if password is None else password
    charger.password_hash = hash_charger_password(secret)
    return secret if password is None else None


async def add(rt: Runtime, operator_id: int, request: ChargerCreate) -> ChargerView:
    async with rt.sessions() as session, session.begin():
        return await register(session, operator_id, request)


async def get(rt: Runtime, operator_id: int, charge_point_id: str) -> ChargerView:
    operator_chargers.check(charge_point_id)
    async with rt.reads() as session:
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        view = charger_view(charger, await charger_store.charger_ports(session, charger.id))
        configuration = await charger_configuration.cached(session, charger.id)
        return replace(view, configuration=tuple(configuration))


async def list_chargers(
    rt: Runtime, operator_id: int, request: ChargersRequest
) -> Listing[ChargerRow, ChargerView, ChargerMark]:
    keyset = Keyset(
        rows=partial(fleet_store.listed, operator_id=operator_id, request=request),
        page_end=partial(fleet_store.page_end, operator_id=operator_id, request=request),
        mark=lambda row: ChargerMark(row[0].charge_point_id),
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, _row_view)


async def modify(
    rt: Runtime, operator_id: int, charge_point_id: str, patch: ChargerPatch
) -> ChargerView:
    """All the changes asked for, or none (a 409 changes nothing)."""
    operator_chargers.check(charge_point_id)
    send_away = None
    async with rt.sessions() as session, session.begin():
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        if patch.connectors is not None:
            await _set_connectors(session, charger, patch.connectors)
        generated = set_password(charger, patch.password) if patch.new_password else None
        if patch.disabled is not None:
            if patch.disabled and not charger.disabled:
                send_away = await fleet_store.send_away(session, charger.id)
            charger.disabled = patch.disabled
        await session.flush()
        await session.refresh(charger)
        ports = await charger_store.charger_ports(session, charger.id)
        view = charger_view(charger, ports, generated)
    if send_away is not None:
        await rt.bus.send_away(charge_point_id, send_away)
    return view


async def _set_connectors(session: AsyncSession, charger: Charger, connectors: int) -> None:
    live = await fleet_store.live_connectors(session, charger.id, above=connectors)
    if live:
        raise Conflict(
            f"Connector(s) {', '.join(map(str, live))} of charger {charger.charge_point_id} "
            "have a session pending or open: stop it before taking the port off"
        )
    for connector_id in range(1, connectors + 1):
        await charger_store.ensure_port(session, charger, connector_id)
    await fleet_store.set_ports_removed(session, charger.id, connectors, utcnow())


async def delete(rt: Runtime, operator_id: int, charge_point_id: str) -> None:
    operator_chargers.check(charge_point_id)
    async with rt.sessions() as session, session.begin():
        charger = await operator_chargers.find(session, operator_id, charge_point_id)
        live = await fleet_store.live_connectors(session, charger.id)
        if live:
            raise Conflict(
                f"Charger {charge_point_id} has a session pending or open on connector(s) "
                f"{', '.join(map(str, live))}: stop it before deleting the charger"
            )
        now = utcnow()
        charger.deleted_at = now
        # Its ports too: an API start waiting on a port's lock then finds it gone.
        await fleet_store.set_ports_removed(session, charger.id, 0, now)
        epoch = await fleet_store.send_away(session, charger.id)
    await rt.bus.send_away(charge_point_id, epoch)
