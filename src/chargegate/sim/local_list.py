"""The simulated charger's local authorization list, kept as real stations keep theirs (OCPP
1.6 Local Auth List Management, 2.0.1 LocalAuthListCtrlr), refusals and quirks included."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocpp.exceptions import NotSupportedError
from ocpp.v16.enums import Action, UpdateType

from chargegate.domain.local_lists import ListAnswer
from chargegate.ocpp.rpc import ErrorAnswer, Handler, Payload

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger


@dataclass(slots=True)
class LocalList:
    """A station's list and how it answers. A station built without one is `None` on the
    simulator instead (no feature profile, no LocalAuthListCtrlr)."""

    # Entries it holds at most, and takes in one SendLocalList at most (None: no limit).
    capacity: int | None = None
    per_message: int | None = None
    # 1.6 LocalAuthListEnabled / 2.0.1 LocalAuthListCtrlr.Enabled: a list that is switched off
    # is reported as version -1 (1.6) and refuses updates as not supported.
    enabled: bool = True
    # Quirks: the next `fails` updates answered Failed (a station that cannot store the list,
    # OCTT TC_043_3); the next `mismatches` differentials answered VersionMismatch (its list
    # moved on between the version question and the update); `consecutive`: a differential
    # must be exactly one version on (the 1.6 text only forbids versions not above its own).
    fails: int = 0
    mismatches: int = 0
    consecutive: bool = False
    # What it holds: entries by case-folded idTag (the whole authorization entry as sent).
    entries: dict[str, Payload] = field(default_factory=dict)
    version: int = 0

    @property
    def reported_version(self) -> int:
        """An empty list is version 0 (1.6 GetLocalListVersion, 2.0.1 D02)."""
        return self.version if self.entries else 0

    def update(self, payload: Payload) -> ListAnswer:
        """A SendLocalList (either version's wording): its status."""
        version = int(payload["listVersion" if "listVersion" in payload else "versionNumber"])
        full = payload["updateType"] == UpdateType.full
        items: list[Payload] = payload.get("localAuthorizationList", [])
        if self.fails > 0:
            self.fails -= 1
            return ListAnswer.FAILED
        if not full:
            if self.mismatches > 0 or version <= self.reported_version:
                self.mismatches = max(0, self.mismatches - 1)
                return ListAnswer.VERSION_MISMATCH
            if self.consecutive and version != self.reported_version + 1:
                return ListAnswer.VERSION_MISMATCH
        if self.per_message is not None and len(items) > self.per_message:
            return ListAnswer.FAILED
        held = {} if full else dict(self.entries)
        for item in items:
            key = _tag(item).upper()
            if "idTagInfo" in item or "idTokenInfo" in item:
                held[key] = item
            else:
                held.pop(key, None)
        if self.capacity is not None and len(held) > self.capacity:
            return ListAnswer.FAILED
        self.entries, self.version = held, version
        return ListAnswer.ACCEPTED

    def status_of(self, tag: str) -> str | None:
        """What the list says of a card (None: not on it)."""
        item = self.entries.get(tag.upper())
        if item is None:
            return None
        status: str = (item.get("idTagInfo") or item["idTokenInfo"])["status"]
        return status


def _tag(item: Payload) -> str:
    tag: str = item["idTag"] if "idTag" in item else item["idToken"]["idToken"]
    return tag


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    """GetLocalListVersion and SendLocalList. A 1.6 charger without the list says version -1
    and NotSupported (OCTT TC_042_1, TC_043_1); a 2.0.1 one, whose statuses have no
    NotSupported, refuses both with that CALLERROR."""

    local_list = sim.local_list
    v16 = sim.dialect.subprotocol == "ocpp1.6"

    def missing() -> ErrorAnswer:
        return ErrorAnswer(NotSupportedError.code, "no local authorization list")

    async def get_version(payload: Payload) -> Payload:
        sim.received.append((Action.get_local_list_version, payload))
        await sim.notify()
        available = local_list is not None and local_list.enabled
        if v16:
            version = local_list.reported_version if local_list and available else -1
            return {"listVersion": version}
        if local_list is None or not available:
            raise missing()
        return {"versionNumber": local_list.reported_version}

    async def send(payload: Payload) -> Payload:
        sim.received.append((Action.send_local_list, payload))
        try:
            if local_list is None or not local_list.enabled:
                if v16:
                    return {"status": ListAnswer.NOT_SUPPORTED}
                raise missing()
            return {"status": local_list.update(payload)}
        finally:
            await sim.notify()

    return {Action.get_local_list_version: get_version, Action.send_local_list: send}
