"""The command line: `chargegate serve | demo | migrate | simulate | status | apikey | chargers |
webhooks | operators | tokens`. Heavy modules are imported by each command, so that `--help`
stays fast."""

from __future__ import annotations

import typer

from chargegate.cli import admin, serving, tokens

app = typer.Typer(help="chargegate: an OCPP charging backend with a small REST API.")
for command in (
    serving.migrate,
    serving.serve,
    serving.demo,
    serving.simulate,
    serving.status,
):
    app.command()(command)
app.add_typer(admin.apikey_app, name="apikey")
app.add_typer(admin.chargers_app, name="chargers")
app.add_typer(admin.webhooks_app, name="webhooks")
app.add_typer(admin.operators_app, name="operators")
app.add_typer(tokens.tokens_app, name="tokens")

__all__ = ["app"]
