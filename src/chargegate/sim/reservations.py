"""How the simulated charger keeps reservations, as stations with the 1.6 Reservation profile
(2.0.1 ReserveNow) do: refused while the connector is charging (Occupied), Faulted or
Unavailable, Rejected where reservations are switched off; held until used, cancelled or
expired (2.0.1 reports the expiry: ReservationStatusUpdate)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chargegate.domain.times import parse_ocpp, utcnow
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.sim.dialects import Connector

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger

# Connector (EVSE) 0: a reservation of the charger as a whole.
WHOLE = 0
_REFUSING = {"Faulted": "Faulted", "Unavailable": "Unavailable"}


@dataclass(slots=True)
class Held:
    reservation_id: int
    # The connector it holds; for one of the whole charger, the one it will be used on.
    connector_id: int
    whole: bool
    id_tag: str
    parent_id_tag: str | None
    expires_at: datetime


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    async def reserve_now(payload: Payload) -> Payload:
        sim.received.append(("ReserveNow", payload))
        await sim.notify()
        if sim.reservations != "Accepted":
            return {"status": sim.reservations}
        v16 = "reservationId" in payload
        reservation_id = int(payload["reservationId"] if v16 else payload["id"])
        wanted = int(payload.get("connectorId") or payload.get("evseId") or WHOLE)
        sim.reservations_held.pop(reservation_id, None)  # the same id again: an update
        if wanted == WHOLE and not sim.reserve_connector_zero:
            return {"status": "Rejected"}
        connector = _free(sim) if wanted == WHOLE else sim.connectors.get(wanted)
        if connector is None:
            return {"status": "Occupied" if wanted == WHOLE else "Rejected"}
        refusal = _refusal(sim, connector)
        if refusal is not None:
            return {"status": refusal}
        group = payload.get("parentIdTag") or payload.get("groupIdToken", {}).get("idToken")
        held = Held(
            reservation_id=reservation_id,
            connector_id=connector.connector_id,
            whole=wanted == WHOLE,
            id_tag=payload["idTag"] if v16 else payload["idToken"]["idToken"],
            parent_id_tag=group,
            expires_at=parse_ocpp(payload["expiryDate"] if v16 else payload["expiryDateTime"]),
        )
        sim.reservations_held[reservation_id] = held
        if not held.whole:
            await sim.set_status(connector, "Reserved")
        sim.spawn(_expire(sim, held))
        return {"status": "Accepted"}

    async def cancel_reservation(payload: Payload) -> Payload:
        sim.received.append(("CancelReservation", payload))
        await sim.notify()
        held = sim.reservations_held.pop(int(payload["reservationId"]), None)
        if held is None:
            return {"status": "Rejected"}
        await _release(sim, held)
        return {"status": "Accepted"}

    if sim.reservations is None:
        return {}
    return {"ReserveNow": reserve_now, "CancelReservation": cancel_reservation}


def _free(sim: SimulatedCharger) -> Connector | None:
    """A connector for a reservation of the whole charger: one neither busy nor held."""
    held = {h.connector_id for h in sim.reservations_held.values()}
    for connector in sim.connectors.values():
        if connector.connector_id not in held and _refusal(sim, connector) is None:
            return connector
    return None


def _refusal(sim: SimulatedCharger, connector: Connector) -> str | None:
    if connector.status in _REFUSING:
        return _REFUSING[connector.status]
    if connector.transaction_id is not None or connector.id_tag is not None:
        return "Occupied"
    if any(h.connector_id == connector.connector_id for h in sim.reservations_held.values()):
        return "Occupied"
    return None


def take(
    sim: SimulatedCharger, connector: Connector, id_tag: str, group: str | None = None
) -> bool:
    """Whether a session for `id_tag` (of `group`) may begin here: it uses the reservation
    that holds the connector for the card or its group (named in its start), and nobody else
    may begin one on a held connector."""
    for held in sim.reservations_held.values():
        if held.connector_id != connector.connector_id:
            continue
        if id_tag != held.id_tag and (group is None or group != held.parent_id_tag):
            return False
        del sim.reservations_held[held.reservation_id]
        connector.reservation_id = held.reservation_id
        return True
    return True


async def _release(sim: SimulatedCharger, held: Held) -> None:
    connector = sim.connectors[held.connector_id]
    if not held.whole and connector.status == "Reserved":
        await sim.set_status(connector, "Available")


async def _expire(sim: SimulatedCharger, held: Held) -> None:
    await asyncio.sleep(max(0.0, (held.expires_at - utcnow()).total_seconds()))
    if sim.reservations_held.get(held.reservation_id) is not held:
        return
    del sim.reservations_held[held.reservation_id]
    await _release(sim, held)
    if sim.dialect.subprotocol == "ocpp2.0.1":
        sim.enqueue(
            (
                "ReservationStatusUpdate",
                {"reservationId": held.reservation_id, "reservationUpdateStatus": "Expired"},
            ),
            durable=False,
        )
