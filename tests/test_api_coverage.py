"""Every operation of the OpenAPI document has what the project's contract asks of an endpoint:
a curl example in README.md, a tenant-isolation test (another operator's key gets 404, or does
not see the record listed) and a role test (a `sessions` key gets 403 on operator endpoints).
Walked from the document, so that a new endpoint without them fails here."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

from fastapi import FastAPI

from chargegate.config import Settings
from chargegate.server import create_app
from test_fleet_api import SEED_PATHS, authenticated_routes

README = Path(__file__).parent.parent / "README.md"
METHODS = {"get", "post", "patch", "put", "delete"}

# Which test probes which operations with another operator's key (its records 404, its lists
# without them): in tests/test_tenant_isolation.py, or `module::test` in another module.
ISOLATION: dict[str, list[tuple[str, str]]] = {
    "test_foreign_cursors_and_the_port_list_show_only_own_data": [
        ("GET", "/1.2/transactions"),
        ("GET", "/1.2/ports"),
    ],
    "test_every_foreign_record_is_404_in_both_modes_and_stays_as_it_was": [
        ("POST", "/1.2/transactions"),
        ("GET", "/1.2/transactions/{transaction_uuid}"),
        ("PATCH", "/1.2/transactions/{transaction_uuid}"),
        ("GET", "/1.2/queue/{queue_uuid}"),
        ("POST", "/1.2/chargers/{charge_point_id}/commands"),
        ("GET", "/1.2/chargers/{charge_point_id}"),
        ("PATCH", "/1.2/chargers/{charge_point_id}"),
        ("DELETE", "/1.2/chargers/{charge_point_id}"),
        ("GET", "/1.2/tokens/{id_tag}"),
        ("PATCH", "/1.2/tokens/{id_tag}"),
        ("DELETE", "/1.2/tokens/{id_tag}"),
        ("GET", "/1.2/chargers/{charge_point_id}/settings"),
        ("PATCH", "/1.2/chargers/{charge_point_id}/settings"),
        ("GET", "/1.2/chargers/{charge_point_id}/local-list"),
        ("POST", "/1.2/chargers/{charge_point_id}/local-list"),
        ("GET", "/1.2/chargers/{charge_point_id}/firmware"),
        ("GET", "/1.2/chargers/{charge_point_id}/configuration"),
    ],
    "test_chargers_and_webhooks_are_the_callers_own": [
        ("GET", "/1.2/chargers"),
        ("POST", "/1.2/chargers"),
        ("GET", "/1.2/webhooks"),
        ("DELETE", "/1.2/webhooks/{webhook_id}"),
    ],
    "test_each_webhook_receives_its_own_operator_events_only": [
        ("POST", "/1.2/webhooks"),
    ],
    "test_sites::test_another_operators_key_gets_404_and_a_sessions_key_403": [
        ("POST", "/1.2/sites"),
        ("GET", "/1.2/sites"),
        ("GET", "/1.2/sites/{site_uuid}"),
        ("PATCH", "/1.2/sites/{site_uuid}"),
        ("DELETE", "/1.2/sites/{site_uuid}"),
    ],
    "test_charging_profiles::test_profiles_of_another_operator_and_a_sessions_key": [
        ("GET", "/1.2/chargers/{charge_point_id}/charging_profiles"),
    ],
    "test_an_import_of_foreign_cards_touches_only_the_importers_own": [
        ("GET", "/1.2/tokens"),
        ("POST", "/1.2/tokens:import"),
    ],
    "test_another_operators_card_session_is_404_and_never_listed": [
        ("POST", "/1.2/tokens"),
    ],
    "test_settings_are_the_callers_own": [
        ("GET", "/1.2/settings"),
        ("PATCH", "/1.2/settings"),
    ],
    "test_another_operators_reservations_are_404": [
        ("GET", "/1.2/reservations"),
        ("POST", "/1.2/reservations"),
        ("GET", "/1.2/reservations/{reservation_uuid}"),
        ("PATCH", "/1.2/reservations/{reservation_uuid}"),
    ],
}


def app() -> FastAPI:
    # Built, never started: no database is opened.
    return create_app(Settings(database_url="sqlite+aiosqlite:////nonexistent/chargegate.db"))


def operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the OpenAPI document describes."""
    return {
        (method.upper(), path)
        for path, item in app().openapi()["paths"].items()
        for method in item
        if method in METHODS
    }


def readme_curls() -> set[tuple[str, str]]:
    """(METHOD, path under $API) of each curl command in README.md; without -X, a body makes
    it a POST."""
    lines = README.read_text().replace("\\\n", " ").splitlines()
    found = set()
    for number, line in enumerate(lines):
        start = line.find("curl ")
        if start < 0:
            continue
        words = command_words(lines[number:], start)
        method = "GET"
        if "-X" in words:
            method = words[words.index("-X") + 1]
        elif {"-d", "--data", "--data-binary"} & set(words):
            method = "POST"
        for word in words:
            if word.startswith("$API"):
                found.add((method, word.removeprefix("$API").split("?")[0]))
    return found


def command_words(lines: list[str], start: int) -> list[str]:
    """The words of the shell command starting at lines[0][start:], which may go on over the
    next lines inside a quoted argument (a JSON body)."""
    text = lines[0][start:]
    for more in lines[1:]:
        try:
            return shlex.split(text, comments=True)
        except ValueError:  # a quote still open
            text += "\n" + more
    return shlex.split(text, comments=True)


def documented(path: str, curls: set[tuple[str, str]], method: str) -> bool:
    """Whether a curl of the README calls `path` (its {params} any one segment)."""
    pattern = re.escape(path.removeprefix("/1.2")).replace(r"\{", "{").replace(r"\}", "}")
    pattern = re.sub(r"\{[^}]+\}", r"[^/]+", pattern)
    return any(m == method and re.fullmatch(pattern, p) for m, p in curls)


def test_every_operation_has_a_curl_in_the_readme() -> None:
    curls = readme_curls()
    assert len(curls) > 20, curls
    missing = sorted((m, p) for m, p in operations() if not documented(p, curls, m))
    assert missing == [], f"README.md has no curl example for: {missing}"


def test_every_operation_has_a_tenant_isolation_test() -> None:
    probed = [operation for operations in ISOLATION.values() for operation in operations]
    assert set(probed) == operations(), "add the new endpoint's isolation test to ISOLATION"
    for name in ISOLATION:
        module, _, test = name.rpartition("::")
        found = getattr(importlib.import_module(module or "test_tenant_isolation"), test, None)
        assert callable(found), name


def test_every_operation_is_in_the_role_test() -> None:
    """tests/test_fleet_api.py's role test walks every authenticated route with a `sessions`
    key (403 off the seed's paths): each operation must be one of those routes."""
    walked = set(authenticated_routes(app()))
    assert operations() <= walked, sorted(operations() - walked)
    operator_only = {(m, p) for m, p in operations() if p not in SEED_PATHS}
    assert len(operator_only) > 25
