"""Creating operators, API keys and chargers (the CLI's write commands)."""

from __future__ import annotations

from typing import Any

from chargegate.config import Settings
from chargegate.domain.credentials import new_api_key
from chargegate.domain.fleet import ChargerCreate, OcppVersion, check_password
from chargegate.domain.identity import check_charge_point_id
from chargegate.domain.roles import Role
from chargegate.domain.times import utcnow
from chargegate.domain.token_import import TokenImport
from chargegate.domain.tokens import UnknownTokens
from chargegate.services import fleet, token_import, webhook_registry
from chargegate.services.fleet import AlreadyRegistered as AlreadyRegistered
from chargegate.services.fleet import ChargerView, charger_view
from chargegate.services.token_import import ImportView
from chargegate.services.webhook_registry import InvalidWebhookUrl as InvalidWebhookUrl
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store import status as status_store
from chargegate.store import webhooks as webhook_store
from chargegate.store.database import create_engine, one_off_session, session_factory


async def create_api_key(settings: Settings, operator_name: str, role: Role = Role.OPERATOR) -> str:
    async with one_off_session(settings.database_url) as session, session.begin():
        operator = await operator_store.get_or_create_operator(session, operator_name, utcnow())
        key = new_api_key()
        await operator_store.add_api_key(
            session, operator, key.lookup, key.key_hash, utcnow(), role
        )
    return key.key


async def set_unknown_tokens(settings: Settings, operator_name: str, policy: UnknownTokens) -> None:
    async with one_off_session(settings.database_url) as session, session.begin():
        await operator_store.set_unknown_tokens(session, operator_name, policy, utcnow())


async def set_charger_unknown_tokens(
    settings: Settings, charge_point_id: str, policy: UnknownTokens | None
) -> None:
    """A charger's own answer to unknown tokens; None: its operator's again."""
    async with one_off_session(settings.database_url) as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        charger.unknown_tokens = policy


DEMO_OPERATOR = "demo"
DEMO_CHARGER = "DEMO-CP-1"


async def demo_setup(settings: Settings) -> tuple[str, dict[str, Any]]:
    """A fresh demo API key, and the demo charger (registered on first use) with a fresh
    password under "password" (only its hash is kept, so a rerun cannot print the old one)."""
    key = await create_api_key(settings, DEMO_OPERATOR)
    try:
        charger = await add_charger(settings, DEMO_CHARGER, DEMO_OPERATOR, 2, None)
    except AlreadyRegistered:
        charger = await charger_ports(settings, DEMO_CHARGER)
        charger["password"] = await new_password(settings, DEMO_CHARGER)
    return key, charger


async def new_password(settings: Settings, charge_point_id: str) -> str:
    """Give a registered charger a new generated password (the old one stops working)."""
    async with one_off_session(settings.database_url) as session, session.begin():
        charger = await charger_store.get_charger(session, charge_point_id)
        if charger is None or charger.deleted_at is not None:
            raise LookupError(f"charger {charge_point_id!r} is not registered")
        password = fleet.set_password(charger, None)
    assert password is not None, "a generated one"
    return password


async def charger_ports(settings: Settings, charge_point_id: str) -> dict[str, Any]:
    async with one_off_session(settings.database_url) as session:
        charger = await charger_store.get_charger(session, charge_point_id)
        if charger is None:
            raise LookupError(f"charger {charge_point_id!r} is not registered")
        ports = await charger_store.charger_ports(session, charger.id)
    return _charger_body(charger_view(charger, ports))


async def add_charger(
    settings: Settings,
    charge_point_id: str,
    operator_name: str,
    connectors: int,
    password: str | None,
    ocpp_protocol: OcppVersion | None = None,
    *,
    insecure_no_password: bool = False,
) -> dict[str, Any]:
    """Register a charger (services.fleet.register, as the API does). Without a password one
    is generated and returned under "password" (shown once: only its hash is kept)."""
    request = ChargerCreate(
        charge_point_id=check_charge_point_id(charge_point_id),
        connectors=connectors,
        password=None if password is None else check_password(password),
        ocpp_version=ocpp_protocol,
    )
    async with one_off_session(settings.database_url) as session, session.begin():
        operator = await operator_store.get_or_create_operator(session, operator_name, utcnow())
        view = await fleet.register(
            session, operator.id, request, insecure_no_password=insecure_no_password
        )
    return _charger_body(view)


def _charger_body(view: ChargerView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "charge_point_id": view.charge_point_id,
        "ports": [{"port_uuid": p.port_uuid, "connector_id": p.connector_id} for p in view.ports],
    }
    if view.password is not None:
        body["password"] = view.password
    return body


async def add_webhook(settings: Settings, operator_name: str, url: str) -> dict[str, Any]:
    await webhook_registry.vet(url, settings.webhook_allow_private)
    async with one_off_session(settings.database_url) as session, session.begin():
        operator = await operator_store.get_or_create_operator(session, operator_name, utcnow())
        webhook = await webhook_registry.register(session, operator.id, url)
    return {"id": webhook.id, "operator": operator_name, "url": url, "secret": webhook.secret}


async def list_webhooks(settings: Settings) -> list[dict[str, Any]]:
    async with one_off_session(settings.database_url) as session:
        webhooks = await webhook_store.active_webhooks(session, None)
        return [{"id": w.id, "operator_id": w.operator_id, "url": w.url} for w in webhooks]


async def remove_webhook(settings: Settings, webhook_id: int) -> bool:
    async with one_off_session(settings.database_url) as session, session.begin():
        return await webhook_store.remove_webhook(session, webhook_id, utcnow())


async def live_counts(settings: Settings) -> dict[str, Any]:
    """What the whole deployment is doing now, from the database (so: every node)."""
    async with one_off_session(settings.database_url) as session:
        return await status_store.live_counts(session)


async def import_tokens(settings: Settings, operator_name: str, request: TokenImport) -> ImportView:
    """`chargegate tokens import`: the API's import, for an operator that exists (a misspelt
    name must not quietly give a new operator the cards)."""
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            operator = await operator_store.find_operator(session, operator_name)
        if operator is None:
            raise LookupError(
                f"no operator {operator_name!r} (operators are made with their first API key: "
                f"chargegate apikey create --operator {operator_name})"
            )
        imported = await token_import.import_tokens(sessions, settings, operator.id, request)
    finally:
        await engine.dispose()
    # Only a request with an Idempotency-Key can be answered from an earlier one.
    assert isinstance(imported, ImportView)
    return imported
