"""Site load balancing: share every circuit's limit between the sessions under it.

Pure: given a tree of circuits and the active sessions it returns allocations, and the order
in which to send them so that no intermediate state exceeds a limit. The arithmetic is exact
(deciamperes and Fractions), so the rounding never pushes a circuit over its limit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import assert_never

# IEC 61851 pilot signals cannot ask for less than 6 A: below it a car stops charging.
MIN_CURRENT_A = Fraction(6)
DEFAULT_VOLTAGE = 230
# Allocations are sent in steps of 0.1 A (the resolution of an OCPP limit worth sending).
STEP = Fraction(1, 10)


class Control(enum.Enum):
    """What the balancer may do with a session's charger."""

    MANAGED = "managed"  # takes TxProfiles: the balancer decides its current
    UNMANAGED = "unmanaged"  # cannot take profiles: it may draw its maximum at any time
    OFFLINE = "offline"  # its charger is gone: it keeps drawing what it was last given


@dataclass(frozen=True, slots=True)
class Circuit:
    """A site (parent None) or a feeder inside it. Exactly one of the two limits is set."""

    id: str
    parent: str | None
    phases: int
    max_current_a: Fraction | None = None
    max_power_w: Fraction | None = None
    voltage: Fraction = Fraction(DEFAULT_VOLTAGE)

    def __post_init__(self) -> None:
        if (self.max_current_a is None) == (self.max_power_w is None):
            raise ValueError(f"circuit {self.id}: set max_current_a or max_power_w")


@dataclass(frozen=True, slots=True)
class Session:
    """An active session on a port of `circuit`. Sort order: priority first, then arrival."""

    id: str
    circuit: str
    arrival: float
    max_a: Fraction
    phases: int = 3
    priority: int = 0
    control: Control = Control.MANAGED
    last_a: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class Allocation:
    amps: dict[str, Fraction]  # per session, A per phase; 0 means waiting for room
    waiting: tuple[str, ...] = field(default=())  # managed sessions that got no room, in order


@dataclass(frozen=True, slots=True)
class Change:
    session: str
    before: Fraction
    after: Fraction


@dataclass(frozen=True, slots=True)
class Plan:
    """Send `lowers` and wait for their answers (or the charger's loss) before `raises`."""

    lowers: tuple[Change, ...]
    raises: tuple[Change, ...]


class _Tree:
    """The circuits a session's current flows through, and each circuit's weighting."""

    def __init__(self, circuits: Iterable[Circuit]) -> None:
        self.by_id = {circuit.id: circuit for circuit in circuits}
        for circuit in self.by_id.values():
            self._path(circuit.id)  # rejects unknown parents and cycles early

    def _path(self, circuit_id: str) -> list[Circuit]:
        path: list[Circuit] = []
        current: str | None = circuit_id
        while current is not None:
            circuit = self.by_id.get(current)
            if circuit is None:
                raise ValueError(f"unknown circuit {current}")
            if circuit in path:
                raise ValueError(f"circuit {current} is its own ancestor")
            path.append(circuit)
            current = circuit.parent
        return path

    def paths(self, sessions: Iterable[Session]) -> dict[str, list[Circuit]]:
        return {session.id: self._path(session.circuit) for session in sessions}


def capacity(circuit: Circuit) -> Fraction:
    """The limit in the unit `weight` counts in: A per phase, or W."""
    if circuit.max_current_a is not None:
        return circuit.max_current_a
    assert circuit.max_power_w is not None
    return circuit.max_power_w


_ONE = Fraction(1)


def weight(circuit: Circuit, session: Session) -> Fraction:
    """What 1 A of the session costs the circuit. Per phase, a session counts in full: we do
    not know which phase a single-phase car is wired to."""
    if circuit.max_current_a is not None:
        return _ONE
    return circuit.voltage * min(session.phases, circuit.phases)


def _cost(circuit: Circuit, session: Session, amps: Fraction) -> Fraction:
    """What `amps` of the session cost the circuit (a Fraction made only when it must be: a
    pass over a site of hundreds of sessions is mostly this arithmetic)."""
    if circuit.max_current_a is not None:
        return amps
    return weight(circuit, session) * amps


def counted(session: Session) -> Fraction:
    """What a session the balancer does not steer is assumed to draw."""
    match session.control:
        case Control.MANAGED:
            return Fraction(0)
        case Control.UNMANAGED:
            return session.max_a
        case Control.OFFLINE:
            return session.last_a
        case _:
            assert_never(session.control)


def order(sessions: Iterable[Session]) -> list[Session]:
    """Who gets room first: higher priority, then earlier arrival, then id (deterministic)."""
    return sorted(sessions, key=lambda s: (-s.priority, s.arrival, s.id))


def _floor_step(amps: Fraction) -> Fraction:
    assert amps >= 0, amps
    return Fraction(amps.numerator * STEP.denominator // amps.denominator, STEP.denominator)


class _Books:
    """Used capacity per circuit, and whether more fits."""

    def __init__(self, tree: _Tree, paths: Mapping[str, list[Circuit]]) -> None:
        self.circuits = tree.by_id
        self.used = {circuit_id: Fraction(0) for circuit_id in tree.by_id}
        self.paths = paths

    def fits(self, session: Session, amps: Fraction) -> bool:
        return all(
            self.used[c.id] + _cost(c, session, amps) <= capacity(c) for c in self.paths[session.id]
        )

    def add(self, session: Session, amps: Fraction) -> None:
        for circuit in self.paths[session.id]:
            self.used[circuit.id] += _cost(circuit, session, amps)


def allocate(
    circuits: Iterable[Circuit], sessions: Sequence[Session], minimum: Fraction = MIN_CURRENT_A
) -> Allocation:
    """Max-min fair shares: every admitted session gets at least `minimum` (or its port's
    maximum if lower); sessions that do not fit at the minimum wait at 0 A, by order."""
    tree = _Tree(circuits)
    paths = tree.paths(sessions)
    books = _Books(tree, paths)
    amps: dict[str, Fraction] = {}
    for session in sessions:
        if session.control is not Control.MANAGED:
            amps[session.id] = counted(session)
            books.add(session, amps[session.id])
    admitted: list[Session] = []
    waiting: list[str] = []
    for session in order(s for s in sessions if s.control is Control.MANAGED):
        floor = _floor_step(min(minimum, session.max_a))
        if floor > 0 and books.fits(session, floor):
            books.add(session, floor)
            admitted.append(session)
            amps[session.id] = floor
        else:
            waiting.append(session.id)
            amps[session.id] = Fraction(0)
    _fill(books, admitted, amps)
    return Allocation(amps=amps, waiting=tuple(waiting))


def _fill(books: _Books, admitted: list[Session], amps: dict[str, Fraction]) -> None:
    """Raise one common level over the admitted sessions; a session stops rising at its maximum
    or when a circuit it is under is full (water filling). Big common jumps first, then the
    last 0.1 A steps one session at a time."""
    top = {s.id: _floor_step(s.max_a) for s in admitted}
    rising = [s for s in admitted if top[s.id] > amps[s.id]]
    while rising:
        jump = _common_jump(books, rising, amps, top)
        blocked: set[str] = set()
        if jump:
            for session in rising:
                books.add(session, jump)
                amps[session.id] += jump
        else:
            level = min(amps[s.id] for s in rising) + STEP
            for session in sorted(rising, key=lambda s: amps[s.id]):
                if amps[session.id] >= level:
                    break
                if books.fits(session, STEP):
                    books.add(session, STEP)
                    amps[session.id] += STEP
                else:
                    blocked.add(session.id)
        rising = [s for s in rising if s.id not in blocked and amps[s.id] < top[s.id]]


def _common_jump(
    books: _Books,
    rising: list[Session],
    amps: Mapping[str, Fraction],
    top: Mapping[str, Fraction],
) -> Fraction:
    """The largest step (a multiple of 0.1 A) every rising session can take at once."""
    jump = min(top[s.id] - amps[s.id] for s in rising)
    cost: dict[str, Fraction] = {}
    for session in rising:
        for circuit in books.paths[session.id]:
            cost[circuit.id] = cost.get(circuit.id, Fraction(0)) + weight(circuit, session)
    for circuit_id, per_amp in cost.items():
        room = capacity(books.circuits[circuit_id]) - books.used[circuit_id]
        jump = min(jump, room / per_amp)
    return _floor_step(max(jump, Fraction(0)))


def plan(before: Mapping[str, Fraction], after: Mapping[str, Fraction]) -> Plan:
    """Lowers first, raises once they are done. Every subset of the lowers leaves each value at
    most what it was, and every subset of the raises at most its target, so no intermediate
    state exceeds a limit that both ends respect. Sessions absent from `after` go to 0."""
    lowers: list[Change] = []
    raises: list[Change] = []
    for session in sorted(set(before) | set(after)):
        old, new = before.get(session, Fraction(0)), after.get(session, Fraction(0))
        if new < old:
            lowers.append(Change(session, old, new))
        elif new > old:
            raises.append(Change(session, old, new))
    return Plan(lowers=tuple(lowers), raises=tuple(raises))


def loads(
    circuits: Iterable[Circuit], sessions: Iterable[Session], amps: Mapping[str, Fraction]
) -> dict[str, Fraction]:
    """What each circuit carries (in its limit's unit) if every session draws `amps`."""
    session_list = list(sessions)
    tree = _Tree(circuits)
    books = _Books(tree, tree.paths(session_list))
    for session in session_list:
        books.add(session, amps.get(session.id, Fraction(0)))
    return books.used
