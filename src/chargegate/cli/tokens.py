"""`tokens import`: an operator's cards from a CSV file, as POST /1.2/tokens:import takes them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from chargegate.cli.common import settings as _settings
from chargegate.domain.errors import DomainError
from chargegate.domain.token_import import ImportMode, TokenImport, parse_rows

tokens_app = typer.Typer(help="The operators' ID tokens (cards).")


@tokens_app.command("import")
def tokens_import(
    operator: Annotated[str, typer.Argument(help="The operator whose cards these are.")],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV (UTF-8) with a header: id_tag,status,expires,parent_id_tag,note,type "
            "(or SteVe's ocpp_tag export).",
        ),
    ],
    stg: Annotated[
        bool, typer.Option("--stg", help="Into the sandbox registry, which no charger reads.")
    ] = False,
    mode: Annotated[
        ImportMode,
        typer.Option(help="upsert: change the cards that exist; create: refuse them."),
    ] = ImportMode.UPSERT,
) -> None:
    """Import cards: every row is checked first, and all are imported or none. Prints how many
    are new, changed and unchanged as JSON; a refusal names the rows at fault (by line)."""
    from chargegate import provisioning
    from chargegate.domain.token_csv import read_token_csv

    try:
        # utf-8-sig: the byte order mark spreadsheets put first is not part of the header.
        with file.open(encoding="utf-8-sig", newline="") as lines:
            read = read_token_csv(lines)
    except UnicodeDecodeError:
        typer.echo(f"error: {file} is not UTF-8 text: save it as CSV UTF-8", err=True)
        raise typer.Exit(1) from None
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    try:
        request = TokenImport(mode, stg, parse_rows(read.rows, read.position))
        imported = asyncio.run(provisioning.import_tokens(_settings(), operator, request))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        for item in exc.items:
            typer.echo(f"  {read.position(item.index)}: {item.message}", err=True)
        raise typer.Exit(1) from None
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(asdict(imported)))
