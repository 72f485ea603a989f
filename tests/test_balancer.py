"""The pure site balancer: equal shares, the minimum current, waiting by arrival and priority,
chargers it cannot steer, and transition plans that never exceed a limit. No sockets; the
random tests check the invariants on many generated sites."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from chargegate.domain.balancer import (
    MIN_CURRENT_A,
    STEP,
    Allocation,
    Circuit,
    Control,
    Session,
    allocate,
    capacity,
    loads,
    order,
    plan,
    weight,
)

F = Fraction


def site(amps: int, phases: int = 3) -> Circuit:
    return Circuit("site", None, phases, max_current_a=F(amps))


def session(
    name: str, arrival: float, max_a: int = 32, circuit: str = "site", **kw: object
) -> Session:
    return Session(name, circuit, arrival, F(max_a), **kw)  # type: ignore[arg-type]


def test_equal_share_within_the_limit() -> None:
    result = allocate([site(60)], [session("a", 1), session("b", 2), session("c", 3)])
    assert result.amps == {"a": 20, "b": 20, "c": 20}
    assert result.waiting == ()


def test_share_left_by_a_small_port_goes_to_the_others() -> None:
    result = allocate([site(60)], [session("a", 1, max_a=10), session("b", 2), session("c", 3)])
    assert result.amps == {"a": 10, "b": 25, "c": 25}


def test_sessions_beyond_the_minimum_wait_by_arrival() -> None:
    sessions = [session(name, t) for t, name in enumerate("dcba")]
    result = allocate([site(13)], sessions)
    assert result.amps == {"d": F(65, 10), "c": F(65, 10), "b": 0, "a": 0}
    assert result.waiting == ("b", "a")


def test_priority_goes_before_arrival() -> None:
    sessions = [session("early", 1), session("urgent", 5, priority=1), session("late", 9)]
    result = allocate([site(13)], sessions)
    assert result.amps == {"urgent": F(65, 10), "early": F(65, 10), "late": 0}
    assert [s.id for s in order(sessions)] == ["urgent", "early", "late"]


def test_a_charger_without_profiles_counts_at_its_maximum() -> None:
    sessions = [session("dumb", 1, max_a=16, control=Control.UNMANAGED), session("b", 2)]
    assert allocate([site(32)], sessions).amps == {"dumb": 16, "b": 16}


def test_an_offline_charger_keeps_its_last_allocation() -> None:
    gone = session("gone", 1, control=Control.OFFLINE, last_a=F(20))
    assert allocate([site(32)], [gone, session("b", 2)]).amps == {"gone": 20, "b": 12}
    # No room for the minimum beside it: the new session waits rather than overload the site.
    assert allocate([site(24)], [gone, session("b", 2)]).amps == {"gone": 20, "b": 0}


def test_nested_feeder_limits_its_sessions_and_frees_room_for_others() -> None:
    circuits = [site(64), Circuit("feeder", "site", 3, max_current_a=F(16))]
    sessions = [
        session("f1", 1, circuit="feeder"),
        session("f2", 2, circuit="feeder"),
        session("s1", 3),
    ]
    result = allocate(circuits, sessions)
    assert result.amps == {"f1": 8, "f2": 8, "s1": 32}


def test_power_limit_counts_phases_and_voltage() -> None:
    circuits = [Circuit("site", None, 3, max_power_w=F(22080))]  # 32 A on 3 phases at 230 V
    sessions = [session("three", 1), session("one", 2, phases=1)]
    result = allocate(circuits, sessions)
    used = loads(circuits, sessions, result.amps)["site"]
    # Equal amps; the single-phase car costs a third: 24 A * (690 + 230) W/A fills the site.
    assert result.amps == {"three": 24, "one": 24} and used == 22080


def test_port_below_the_minimum_gets_its_maximum() -> None:
    assert allocate([site(20)], [session("tiny", 1, max_a=4)]).amps == {"tiny": 4}


def test_bad_trees_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown circuit"):
        allocate([Circuit("a", "nowhere", 3, max_current_a=F(1))], [])
    with pytest.raises(ValueError, match="own ancestor"):
        allocate(
            [Circuit("a", "b", 3, max_current_a=F(1)), Circuit("b", "a", 3, max_current_a=F(1))],
            [],
        )
    with pytest.raises(ValueError, match="set max_current_a or max_power_w"):
        Circuit("a", None, 3)


def test_plan_lowers_before_it_raises() -> None:
    result = plan({"a": F(20), "b": F(12)}, {"a": F(16), "b": F(16), "c": F(0)})
    assert [(c.session, c.after) for c in result.lowers] == [("a", F(16))]
    assert [(c.session, c.after) for c in result.raises] == [("b", F(16))]
    gone = plan({"a": F(10)}, {})
    assert [(c.session, c.after) for c in gone.lowers] == [("a", F(0))] and gone.raises == ()


# -- random sites -----------------------------------------------------------------------------


def random_site(rng: random.Random) -> tuple[list[Circuit], list[Session]]:
    circuits = [
        Circuit("site", None, 3, max_current_a=F(rng.randint(0, 200)))
        if rng.random() < 0.7
        else Circuit("site", None, 3, max_power_w=F(rng.randint(0, 140_000)))
    ]
    for n in range(rng.randint(0, 4)):
        parent = rng.choice(circuits).id
        circuits.append(
            Circuit(f"c{n}", parent, rng.choice((1, 3)), max_current_a=F(rng.randint(0, 80)))
        )
    sessions = []
    for n in range(rng.randint(0, 25)):
        control = rng.choices(list(Control), weights=(8, 1, 1))[0]
        sessions.append(
            Session(
                f"s{n:02}",
                rng.choice(circuits).id,
                arrival=rng.random(),
                max_a=F(rng.choice((4, 6, 10, 16, 32, 63))),
                phases=rng.choice((1, 3)),
                priority=rng.choice((0, 0, 0, 1)),
                control=control,
                last_a=F(rng.randint(0, 32)) if control is Control.OFFLINE else F(0),
            )
        )
    return circuits, sessions


def check_invariants(circuits: list[Circuit], sessions: list[Session], result: Allocation) -> None:
    by_id = {s.id: s for s in sessions}
    fixed = loads(circuits, [s for s in sessions if s.control is not Control.MANAGED], result.amps)
    used = loads(circuits, sessions, result.amps)
    managed = [s for s in sessions if s.control is Control.MANAGED]
    paths = {s.id: path(circuits, s.circuit) for s in sessions}
    for circuit in circuits:
        # The balancer cannot help what it does not steer, but adds nothing beyond it.
        if fixed[circuit.id] <= capacity(circuit):
            assert used[circuit.id] <= capacity(circuit), circuit
        else:
            assert used[circuit.id] == fixed[circuit.id], circuit
    for s in managed:
        amps = result.amps[s.id]
        assert amps <= s.max_a and amps % STEP == 0
        assert (amps == 0) == (s.id in result.waiting)
        if amps:
            assert amps >= min(MIN_CURRENT_A, s.max_a) // STEP * STEP
    ranked = order(managed)
    for s in managed:
        if s.id in result.waiting:
            # Waiting is fair: the minimums of those ahead of it already fill a circuit.
            ahead = [o for o in ranked[: ranked.index(s)] if o.id not in result.waiting]
            floors = {o.id: result.amps[o.id] and min(MIN_CURRENT_A, o.max_a) for o in ahead}
            floor = min(MIN_CURRENT_A, s.max_a) // STEP * STEP
            assert floor == 0 or any(
                fixed[c.id]
                + sum(weight(c, o) * floors[o.id] for o in ahead if c in paths[o.id])
                + weight(c, s) * floor
                > capacity(c)
                for c in paths[s.id]
            ), s
    for s in managed:
        if s.id in result.waiting or result.amps[s.id] + STEP > s.max_a:
            continue
        # Not starved: a session below another's share is held back by a full circuit.
        richer = [o for o in managed if result.amps[o.id] > result.amps[s.id] + STEP]
        if richer:
            assert any(
                used[c.id] + weight(c, by_id[s.id]) * STEP > capacity(c) for c in paths[s.id]
            ), (s, richer)


def path(circuits: list[Circuit], circuit_id: str | None) -> list[Circuit]:
    by_id = {c.id: c for c in circuits}
    out = []
    while circuit_id is not None:
        out.append(by_id[circuit_id])
        circuit_id = by_id[circuit_id].parent
    return out


@pytest.mark.parametrize("seed", range(200))
def test_random_sites_keep_the_invariants(seed: int) -> None:
    rng = random.Random(seed)
    circuits, sessions = random_site(rng)
    check_invariants(circuits, sessions, allocate(circuits, sessions))


@pytest.mark.parametrize("seed", range(100))
def test_random_transitions_never_exceed_a_limit(seed: int) -> None:
    rng = random.Random(seed)
    circuits, sessions = random_site(rng)
    managed = [s for s in sessions if s.control is Control.MANAGED]
    before = allocate(circuits, managed).amps
    # Some sessions end, some start, the limit changes: then any partial rollout of the plan.
    kept = [s for s in managed if rng.random() < 0.7]
    fresh = [
        Session(f"n{n}", rng.choice(circuits).id, 2.0 + n, F(32)) for n in range(rng.randint(0, 5))
    ]
    after_circuits = [
        Circuit(c.id, c.parent, c.phases, max_current_a=F(rng.randint(0, 100)))
        if c.max_current_a is not None
        else c
        for c in circuits
    ]
    after = allocate(after_circuits, kept + fresh).amps
    steps = plan(before, after)
    everyone = managed + fresh
    state = dict(before)
    at_start = loads(after_circuits, everyone, before)
    for change in rng.sample(steps.lowers, len(steps.lowers)):
        state[change.session] = change.after
        # While lowering, no circuit carries more than it did: the old limit still holds.
        now = loads(after_circuits, everyone, state)
        assert all(now[c] <= at_start[c] for c in now)
    for change in rng.sample(steps.raises, len(steps.raises)):
        state[change.session] = change.after
        # Once every lower is done, each partial raise is within the new limits.
        now = loads(after_circuits, everyone, state)
        assert all(now[c.id] <= capacity(c) for c in after_circuits)
    assert {k: v for k, v in state.items() if v} == {k: v for k, v in after.items() if v}


def test_two_hundred_sessions_allocate_quickly() -> None:
    circuits = [site(1200)]
    sessions = [session(f"s{n:03}", n) for n in range(200)]
    result = allocate(circuits, sessions)
    assert sum(result.amps.values()) == 1200 and set(result.amps.values()) == {6}
