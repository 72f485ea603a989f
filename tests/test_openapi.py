"""The served OpenAPI document matches the server: schemathesis generates requests from it
(production and staging) and checks every answer against it. No input may cause a 5xx.

Random uuids only ever reach the 404s, so half of the valid requests are pointed at real
things (this operator's ports, transactions and queue items seen in earlier answers, a future
`expires`): the success answers are then checked against the document too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chargegate.domain.validation import CREATE_FIELDS
from chargegate.store.migrate import upgrade_sync
from support import Server

# Examples per operation and generation mode; `make fuzz` raises it (to 500). Derandomized, 12
# reach every status the tests below ask for, in half the time of 25.
EXAMPLES = int(os.environ.get("CHARGEGATE_OPENAPI_EXAMPLES", "12"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Requests that break the document must be refused (4xx), not half-accepted.
    negative_data_rejection,
    missing_required_header,
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="CHARGEGATE_OPENAPI_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Target:
    """The live server, an operator's key and ports, and the ids its answers have named."""

    server: Server
    key: str
    ports: list[str]
    # The online charger's and the offline one's ids.
    chargers: list[str]
    # A charger of its own for /1.2/chargers/<id> to change, disable and delete.
    spare: str
    # By staging flag, then by port: each port's newest transaction is the one likely alive.
    transactions: dict[bool, dict[str, list[str]]] = field(
        default_factory=lambda: {False: {}, True: {}}
    )
    queue_items: dict[bool, list[str]] = field(default_factory=lambda: {False: [], True: []})
    tokens: dict[bool, list[str]] = field(default_factory=lambda: {False: [], True: []})
    reservations: dict[bool, list[str]] = field(default_factory=lambda: {False: [], True: []})
    webhooks: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    statuses: dict[tuple[bool, str], set[int]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server with one charger online (a simulator process:
    real starts and stops) and one never connected (starts that fail at once)."""
    instance = Server(workdir=tmp_path_factory.mktemp("openapi"))
    upgrade_sync(instance.database_url)
    instance.start()
    operator = asyncio.run(instance.operator())
    online = asyncio.run(operator.add_charger(connectors=2))
    offline = asyncio.run(operator.add_charger(connectors=1))
    spare = asyncio.run(operator.add_charger(connectors=1))
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chargegate",
            "simulate",
            online.charge_point_id,
            "--connectors",
            "2",
            "--url",
            instance.ws_url,
        ],
        env=instance.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        headers = {"x-api-key": operator.key}
        deadline = time.monotonic() + 20
        while not any(
            port["online"]
            for port in httpx.get(f"{instance.api}/ports", headers=headers, timeout=10).json()
        ):
            assert time.monotonic() < deadline, "the simulated charger did not come online"
            time.sleep(0.1)
        for stg in (False, True):
            card = {"id_tag": CARD, "status": "Accepted", "stg": stg}
            assert httpx.post(f"{instance.api}/tokens", json=card, headers=headers).is_success
        yield Target(
            instance,
            operator.key,
            [*online.port_uuids, *offline.port_uuids],
            [online.charge_point_id, offline.charge_point_id],
            spare.charge_point_id,
        )
    finally:
        simulator.terminate()
        simulator.wait(10)
        instance.stop()


def test_document_describes_every_endpoint(target: Target) -> None:
    document = httpx.get(f"{target.server.api}/openapi.json", timeout=10).json()
    assert set(document["paths"]) == {
        "/1.2/transactions",
        "/1.2/transactions/{transaction_uuid}",
        "/1.2/queue/{queue_uuid}",
        "/1.2/ports",
        "/1.2/chargers/{charge_point_id}/commands",
        "/1.2/chargers/{charge_point_id}/local-list",
        "/1.2/chargers/{charge_point_id}/firmware",
        "/1.2/chargers/{charge_point_id}/configuration",
        "/1.2/chargers/{charge_point_id}/charging_profiles",
        "/1.2/tokens",
        "/1.2/tokens/{id_tag}",
        "/1.2/tokens:import",
        "/1.2/settings",
        "/1.2/chargers/{charge_point_id}/settings",
        "/1.2/reservations",
        "/1.2/reservations/{reservation_uuid}",
        "/1.2/chargers",
        "/1.2/chargers/{charge_point_id}",
        "/1.2/webhooks",
        "/1.2/webhooks/{webhook_id}",
        "/1.2/sites",
        "/1.2/sites/{site_uuid}",
    }
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert document["security"] == [{"apiKey": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for status in ("400", "401", "413", "429", "500"):
                error = operation["responses"][status]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/Error"}, where
            if method == "get" and path not in NO_SANDBOX:
                assert "stg" in {p["name"] for p in operation["parameters"]}, where
    queue = document["paths"]["/1.2/queue/{queue_uuid}"]["get"]
    assert "stg_input" in {p["name"] for p in queue["parameters"]}
    create = document["paths"]["/1.2/transactions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(CREATE_FIELDS) == set(body["properties"])
    docs = httpx.get(f"{target.server.api}/docs", timeout=10)
    assert docs.status_code == 200 and "/1.2/openapi.json" in docs.text


# Lists without a sandbox copy: the seed's ports, and the operator's chargers and webhooks
# (real equipment and real endpoints, which `stg` requests never reach).
NO_SANDBOX = {
    "/1.2/ports",
    "/1.2/chargers",
    "/1.2/chargers/{charge_point_id}",
    "/1.2/webhooks",
    "/1.2/sites",
    "/1.2/sites/{site_uuid}",
}


def _time(offset_s: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aim(case: Any, target: Target, staging: bool, pick: int, ahead_s: int) -> None:
    """Point a valid request at real things: known ids, a real port, times that parse."""
    port = target.ports[pick % len(target.ports)]
    params = case.path_parameters or {}
    for name, pool in (
        ("transaction_uuid", target.transactions[staging].get(port, [])),
        ("queue_uuid", target.queue_items[staging]),
        ("id_tag", target.tokens[staging]),
        ("reservation_uuid", target.reservations[staging]),
        ("webhook_id", target.webhooks),
        ("site_uuid", target.sites),
    ):
        if name in params and pool:
            # Newest first: small picks (hypothesis favours them) reach live sessions.
            params[name] = pool[-1 - (pick // len(target.ports)) % len(pool)]
    if case.path == "/1.2/chargers/{charge_point_id}":
        # Changed, disabled or deleted: never a charger the other operations need.
        params["charge_point_id"] = target.spare
    elif "charge_point_id" in params:
        params["charge_point_id"] = target.chargers[pick % len(target.chargers)]
    for arguments in (case.body, case.query):
        if not isinstance(arguments, dict):
            continue
        if "port_uuid" in arguments:
            arguments["port_uuid"] = port
        if case.path == "/1.2/chargers" and case.method == "POST":
            arguments["charge_point_id"] = f"FUZZ-{uuid.uuid4().hex[:12]}"
        elif "charge_point_id" in arguments:
            arguments["charge_point_id"] = target.chargers[pick % len(target.chargers)]
        if case.path == "/1.2/webhooks" and case.method == "POST":
            # Refused at once (the discard port), whatever the events sent to it.
            arguments["url"] = "http://127.0.0.1:9/fuzz"
        if isinstance(arguments.get("expires"), str):
            # A port's first session lasts, for the later operations to aim at (the port is
            # busy meanwhile, a 409 to further starts); a PATCH may still make it expire soon.
            first = case.method == "POST" and not target.transactions[staging].get(port)
            arguments["expires"] = _time(max(ahead_s, 600) if first else ahead_s)
        if case.path == "/1.2/reservations" and case.method == "POST":
            # A card chargers accept, reserved for at most the 24 hours a reservation may last.
            arguments["id_tag"] = CARD
            arguments["expires"] = _time(min(ahead_s, 3600))
        if "since" in arguments:
            arguments["since"] = _time(-ahead_s)
        if "until" in arguments:
            arguments["until"] = _time(ahead_s)
        arguments.pop("cursor", None)


# Accepted in both registries, and never among the tokens the fuzzer changes or deletes.
CARD = "FUZZ-CARD"


def _remember(target: Target, staging: bool, case: Any, response: httpx.Response) -> None:
    if response.status_code == 201 and case.path == "/1.2/tokens":
        target.tokens[staging].append(response.json()["id_tag"])
    elif response.status_code == 201 and case.path == "/1.2/sites":
        target.sites.append(response.json()["site_uuid"])
    elif response.status_code == 201 and case.path == "/1.2/webhooks":
        target.webhooks.append(str(response.json()["id"]))
    elif response.status_code == 201 and case.path == "/1.2/transactions":
        created = response.json()
        port = case.body["port_uuid"]
        target.transactions[staging].setdefault(port, []).append(created["transaction_uuid"])
        target.queue_items[staging].append(created["queue_uuid"])
    elif response.status_code == 202:
        target.queue_items[staging].append(response.json()["id"])
        if case.path == "/1.2/reservations":
            target.reservations[staging].append(response.json()["reservation_uuid"])


def call_and_check(
    case: Any, target: Target, staging: bool, mode: GenerationMode, aim: bool, pick: int, ahead: int
) -> None:
    if mode is GenerationMode.POSITIVE and aim:
        _aim(case, target, staging, pick, ahead)
    positive = mode is GenerationMode.POSITIVE
    if staging:
        # A valid request is made a staging one; an invalid `stg` is left as generated.
        if isinstance(case.body, dict) and (positive or "stg" not in case.body):
            case.body["stg"] = True
        if case.query is None:
            case.query = {}
        if positive or "stg" not in case.query:
            case.query["stg"] = "true"
    elif positive:
        # Valid requests of the production run stay production ones (ids are kept apart).
        for arguments in (case.body, case.query):
            if isinstance(arguments, dict):
                arguments.pop("stg", None)
    case.headers = {**(case.headers or {}), "x-api-key": target.key}
    response = case.call(base_url=target.server.base_url, timeout=30)
    target.statuses.setdefault((staging, f"{case.method} {case.path}"), set()).add(
        response.status_code
    )
    _remember(target, staging, case, response)
    case.validate_response(response, checks=CHECKS)


def fuzz(target: Target, staging: bool) -> None:
    """Every operation of the served document, EXAMPLES generated requests each per mode."""
    document = httpx.get(f"{target.server.api}/openapi.json", timeout=10).json()
    operations = [
        result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()
    ]
    assert len(operations) == 39
    # Starts first, so that the later operations have real ids to aim at.
    operations.sort(key=lambda operation: operation.method != "post")
    for operation in operations:
        # Valid requests, and invalid ones (which must get a documented 4xx, never a 5xx).
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(operation, mode, target, staging)


def _fuzz_one(operation: Any, mode: GenerationMode, target: Target, staging: bool) -> None:
    @given(
        case=operation.as_strategy(generation_mode=mode),
        aim=st.booleans(),
        pick=st.integers(0, 2**16),
        # A few sessions expire during the run: the stop at expiry happens too.
        ahead=st.one_of(*[st.integers(60, 400 * 86_400)] * 3, st.integers(2, 10)),
    )
    @FUZZ
    def check(case: Any, aim: bool, pick: int, ahead: int) -> None:
        call_and_check(case, target, staging, mode, aim, pick, ahead)

    check()


def _reached(target: Target, staging: bool) -> dict[str, set[int]]:
    return {op: codes for (stg, op), codes in target.statuses.items() if stg is staging}


# 34 operations, 50 requests each: about two minutes on PostgreSQL on a busy machine.
@pytest.mark.timeout(300)
def test_production_calls_match_document(target: Target) -> None:
    fuzz(target, staging=False)
    reached = _reached(target, staging=False)
    # The fuzzer got past validation: sessions were started, followed, extended and stopped.
    assert 201 in reached["POST /1.2/transactions"], reached
    assert 200 in reached["GET /1.2/queue/{queue_uuid}"], reached
    assert 200 in reached["GET /1.2/transactions/{transaction_uuid}"], reached
    assert {202, 204} & reached["PATCH /1.2/transactions/{transaction_uuid}"], reached
    assert 202 in reached["POST /1.2/chargers/{charge_point_id}/commands"], reached
    assert 201 in reached["POST /1.2/tokens"], reached
    assert 200 in reached["GET /1.2/tokens/{id_tag}"], reached
    assert 200 in reached["PATCH /1.2/tokens/{id_tag}"], reached
    assert 200 in reached["POST /1.2/tokens:import"], reached
    assert 200 in reached["PATCH /1.2/settings"], reached
    assert 200 in reached["PATCH /1.2/chargers/{charge_point_id}/settings"], reached
    assert 200 in reached["GET /1.2/chargers/{charge_point_id}/local-list"], reached
    assert 202 in reached["POST /1.2/chargers/{charge_point_id}/local-list"], reached
    assert 200 in reached["GET /1.2/chargers/{charge_point_id}/firmware"], reached
    assert 200 in reached["GET /1.2/chargers/{charge_point_id}/configuration"], reached
    assert 200 in reached["GET /1.2/chargers/{charge_point_id}/charging_profiles"], reached
    assert 202 in reached["POST /1.2/reservations"], reached
    assert 200 in reached["GET /1.2/reservations/{reservation_uuid}"], reached
    assert 201 in reached["POST /1.2/chargers"], reached
    assert 200 in reached["GET /1.2/chargers"], reached
    assert 200 in reached["PATCH /1.2/chargers/{charge_point_id}"], reached
    assert 201 in reached["POST /1.2/webhooks"], reached
    assert 204 in reached["DELETE /1.2/webhooks/{webhook_id}"], reached
    assert 201 in reached["POST /1.2/sites"], reached
    assert 200 in reached["GET /1.2/sites/{site_uuid}"], reached


# 34 operations, 50 requests each: about two minutes on PostgreSQL on a busy machine.
@pytest.mark.timeout(300)
def test_staging_calls_match_document(target: Target) -> None:
    fuzz(target, staging=True)
    reached = _reached(target, staging=True)
    assert 201 in reached["POST /1.2/transactions"], reached
    assert 200 in reached["GET /1.2/queue/{queue_uuid}"], reached
    assert {202, 204} & reached["PATCH /1.2/transactions/{transaction_uuid}"], reached
    assert 202 in reached["POST /1.2/chargers/{charge_point_id}/commands"], reached
