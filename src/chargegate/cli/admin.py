"""Administration: `apikey`, `chargers`, `webhooks` and `operators` commands."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from chargegate.cli.common import ChargerUnknownTokens, OcppVersion
from chargegate.cli.common import settings as _settings
from chargegate.domain.fleet import BadChargerPassword
from chargegate.domain.identity import InvalidChargePointId
from chargegate.domain.roles import Role
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.tokens import UnknownTokens

apikey_app = typer.Typer(help="Manage API keys.")
chargers_app = typer.Typer(help="Manage chargers.")
webhooks_app = typer.Typer(help="Manage webhooks (signed event deliveries).")
operators_app = typer.Typer(help="Operator settings.")


@apikey_app.command("create")
def apikey_create(
    operator: Annotated[str, typer.Option(help="Operator the key belongs to.")],
    role: Annotated[
        Role,
        typer.Option(
            help="operator: every endpoint; sessions: only /1.2/transactions, /1.2/queue and "
            "/1.2/ports (for an app's backend)."
        ),
    ] = Role.OPERATOR,
) -> None:
    """Create an API key; it is printed once, as the last line, and only its hash is kept."""
    from chargegate import provisioning

    key = asyncio.run(provisioning.create_api_key(_settings(), operator, role))
    typer.echo(
        f"API key for operator {operator!r}, role {role.value} (shown once, store it now):",
        err=True,
    )
    typer.echo(key)


@apikey_app.command("list")
def apikey_list() -> None:
    """Every API key: lookup id, operator, created and revoked (UTC), role. Never the key or
    its hash."""
    from chargegate.store import operators as operator_store
    from chargegate.store.database import one_off_session

    settings = _settings()

    async def rows() -> list[tuple[str, str, str, str, str]]:
        async with one_off_session(settings.database_url) as session:
            keys = await operator_store.list_api_keys(session)
        return [
            (
                k.lookup,
                name,
                format_api(k.created_at) or "",
                format_api(k.revoked_at) or "-",
                k.role.value,
            )
            for k, name in keys
        ]

    typer.echo("lookup\toperator\tcreated\trevoked\trole")
    for row in asyncio.run(rows()):
        typer.echo("\t".join(row))


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="The key's lookup id (see `apikey list`) or the key.")],
) -> None:
    """Revoke an API key: from now on every request with it is refused (401), on every node."""
    from chargegate.domain.credentials import api_key_lookup
    from chargegate.store import operators as operator_store
    from chargegate.store.database import one_off_session

    lookup = api_key_lookup(key) or key
    settings = _settings()

    async def revoke() -> tuple[str, str, bool] | None:
        now = utcnow()
        async with one_off_session(settings.database_url) as session, session.begin():
            found = await operator_store.revoke_api_key(session, lookup, now)
            if found is None:
                return None
            api_key, name = found
            return api_key.lookup, name, api_key.revoked_at is not now

    revoked = asyncio.run(revoke())
    if revoked is None:
        # Never echo the argument: it may be a whole key.
        typer.echo("error: no API key with that lookup id", err=True)
        raise typer.Exit(1)
    lookup, name, earlier = revoked
    typer.echo(
        f"API key {lookup} of operator {name!r} {'was already' if earlier else 'is'} revoked"
    )


@chargers_app.command("add")
def chargers_add(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
    operator: Annotated[str, typer.Option(help="Operator that owns the charger.")],
    connectors: Annotated[int, typer.Option(min=1, max=32, help="Number of ports.")] = 1,
    password: Annotated[
        str | None,
        typer.Option(
            help="Its HTTP Basic auth password (security profiles 1 and 2); "
            "default: a generated one, printed once."
        ),
    ] = None,
    insecure_no_password: Annotated[
        bool,
        typer.Option(
            "--insecure-no-password",
            help="Admit anyone who knows the id as this charger (logged as a warning).",
        ),
    ] = False,
    ocpp_version: Annotated[
        OcppVersion | None,
        typer.Option(help="Use this version when the charger offers several (default: newest)."),
    ] = None,
) -> None:
    """Register a charger and one port per connector (EVSE); prints them as JSON, with the
    generated password when none was given (shown once: only its hash is kept)."""
    from chargegate import provisioning

    try:
        added = asyncio.run(
            provisioning.add_charger(
                _settings(),
                charge_point_id,
                operator,
                connectors,
                password,
                ocpp_version,
                insecure_no_password=insecure_no_password,
            )
        )
    except BadChargerPassword as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (provisioning.AlreadyRegistered, InvalidChargePointId) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if "password" in added:
        typer.echo("Generated password shown once: configure it in the charger now.", err=True)
    if insecure_no_password:
        typer.echo(
            "WARNING: no password: anyone who knows this id can connect as this charger.", err=True
        )
    typer.echo(json.dumps(added))


@chargers_app.command("new-password")
def chargers_new_password(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
) -> None:
    """Give a charger a new generated password, printed once; the old one (or none) stops
    working at its next connection."""
    from chargegate import provisioning

    try:
        password = asyncio.run(provisioning.new_password(_settings(), charge_point_id))
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"New password for {charge_point_id!r} (shown once):", err=True)
    typer.echo(password)


@chargers_app.command("unknown-tokens")
def chargers_unknown_tokens(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity.")],
    policy: Annotated[
        ChargerUnknownTokens,
        typer.Argument(help="reject (Invalid), accept (free vend), or operator (its operator's)."),
    ],
) -> None:
    """What this charger is told of a card that is not in its operator's registry, over its
    operator's policy (`operators unknown-tokens`); `operator` follows that again. The same as
    PATCH /1.2/chargers/<charge_point_id>/settings. Applies from the next card on."""
    from chargegate import provisioning

    own = None if policy is ChargerUnknownTokens.OPERATOR else UnknownTokens(policy.value)
    try:
        asyncio.run(provisioning.set_charger_unknown_tokens(_settings(), charge_point_id, own))
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"charger {charge_point_id!r}: unknown tokens: {policy.value}")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the events.")],
    operator: Annotated[str, typer.Option(help="Operator whose events it receives.")],
) -> None:
    """Register a webhook; prints it as JSON with its signing secret (shown once)."""
    from chargegate import provisioning

    try:
        added = asyncio.run(provisioning.add_webhook(_settings(), operator, url))
    except provisioning.InvalidWebhookUrl as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo("Signing secret shown once: store it to verify X-Chargegate-Signature.", err=True)
    typer.echo(json.dumps(added))


@webhooks_app.command("list")
def webhooks_list() -> None:
    """The active webhooks as JSON (secrets are not shown)."""
    from chargegate import provisioning

    typer.echo(json.dumps(asyncio.run(provisioning.list_webhooks(_settings()))))


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[int, typer.Argument(help="Id printed by `webhooks add`.")],
) -> None:
    """Stop a webhook; its undelivered events are dropped."""
    from chargegate import provisioning

    if not asyncio.run(provisioning.remove_webhook(_settings(), webhook_id)):
        typer.echo(f"error: no active webhook {webhook_id}", err=True)
        raise typer.Exit(1)


@operators_app.command("unknown-tokens")
def operators_unknown_tokens(
    operator: Annotated[str, typer.Argument(help="The operator's name.")],
    policy: Annotated[
        UnknownTokens, typer.Argument(help="reject (answered Invalid) or accept (free vend).")
    ],
) -> None:
    """What the operator's chargers are told of a card that is not in its token registry:
    `reject` (the default: Invalid) or `accept` (free vend). Applies from the next card on."""
    from chargegate import provisioning

    asyncio.run(provisioning.set_unknown_tokens(_settings(), operator, policy))
    typer.echo(f"operator {operator!r}: unknown tokens: {policy.value}")
