"""Pure pieces of the charger side, tested without sockets."""

from __future__ import annotations

import base64

import pytest

from chargegate.ocpp.connections import REPLACED, Connection, ConnectionRegistry, Superseded
from chargegate.ocpp.endpoint import basic_auth_password
from chargegate.ocpp.meter import energy_wh
from chargegate.ocpp.versions import negotiate


def sample(value: str, **fields: str) -> dict[str, object]:
    return {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": value, **fields}]}


def test_energy_reading_defaults_to_the_energy_register_in_wh() -> None:
    assert energy_wh([sample("1234")]) == 1234
    assert energy_wh([sample("1.5", unit="kWh")]) == 1500
    assert energy_wh([sample("12", measurand="Power.Active.Import", unit="W")]) is None
    assert energy_wh([sample("7", phase="L1")]) is None
    assert energy_wh([sample("not a number")]) is None
    assert energy_wh([sample("10"), sample("25")]) == 25


def negotiated(offered: list[str], registered: str | None = None) -> str | None:
    version = negotiate(offered, registered)
    return None if version is None else version.subprotocol


def test_negotiation_prefers_the_registered_version_then_the_newest() -> None:
    assert negotiated(["ocpp1.5", "ocpp1.6"]) == "ocpp1.6"
    assert negotiated(["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert negotiated(["ocpp1.6", "ocpp2.0.1"], registered="ocpp1.6") == "ocpp1.6"
    assert negotiated(["ocpp2.0.1"], registered="ocpp1.6") == "ocpp2.0.1"
    assert negotiated(["ocpp1.5"]) is None
    assert negotiated([]) is None


def header(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_auth_only_for_the_charger_itself() -> None:
    assert basic_auth_password(header("CP1:pw:with:colons"), "CP1") == "pw:with:colons"
    assert basic_auth_password(header("CP2:pw"), "CP1") is None
    assert basic_auth_password("Bearer abc", "CP1") is None
    assert basic_auth_password("Basic !!!", "CP1") is None
    assert basic_auth_password(None, "CP1") is None


class Socket:
    def __init__(self) -> None:
        self.closed: list[int] = []

    async def close(self, code: int, reason: str) -> None:
        self.closed.append(code)


def connection(epoch: int) -> Connection:
    # The registry never touches the session or version of a connection it only registers.
    return Connection(session=None, epoch=epoch, socket=Socket(), version=None)  # type: ignore[arg-type]


async def test_a_take_over_announced_before_registering_supersedes_the_connection() -> None:
    """Node A claims epoch 1, node B claims epoch 2 and announces it, and only then does A
    register its connection: A must not keep a socket the charger has left."""
    registry = ConnectionRegistry()
    await registry.evict("CP", 2)
    with pytest.raises(Superseded):
        registry.attach("CP", connection(1))
    assert registry.attach("CP", connection(3)) is None  # a newer connection here is fine


async def test_a_take_over_closes_the_older_socket_only() -> None:
    registry = ConnectionRegistry()
    older = connection(1)
    registry.attach("CP", older)
    await registry.evict("CP", 1)  # this node's own announcement
    assert older.socket.closed == []  # type: ignore[attr-defined]
    await registry.evict("CP", 2)
    assert older.socket.closed == [REPLACED]  # type: ignore[attr-defined]
