"""The charging profiles a simulated charger holds, and the limit they make (pure: no I/O).

The stacking rules are the spec's (1.6 section 3.13, 2.0.1 K01/K08): among the valid profiles of
one purpose, the highest stackLevel whose schedule runs now wins; a TxProfile replaces the
TxDefaultProfile while its transaction runs; the port's limit is the lower of that and the
whole charger's (ChargePointMax / ChargingStationMax). A TxDefaultProfile on the port is taken
over the one on port 0 when their stack levels tie."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ocpp.v16.enums import ChargingProfileKindType as Kind
from ocpp.v16.enums import ChargingProfilePurposeType as Purpose
from ocpp.v16.enums import ChargingRateUnitType as RateUnit
from ocpp.v16.enums import RecurrencyKind
from ocpp.v201.enums import ChargingProfilePurposeEnumType as Purpose201

from chargegate.domain.times import parse_ocpp
from chargegate.ocpp.rpc import Payload

# Both versions' words are the same but for the whole charger's limit.
CHARGER_MAX = frozenset({Purpose.charge_point_max_profile, Purpose201.charging_station_max_profile})
TX_DEFAULT = Purpose.tx_default_profile
TX = Purpose.tx_profile
_REPEATS = {RecurrencyKind.daily: timedelta(days=1), RecurrencyKind.weekly: timedelta(weeks=1)}
# OCPP's numberPhases when a period leaves it out.
PHASES = 3


@dataclass(frozen=True, slots=True)
class Installed:
    id: int
    # 0: the whole charger.
    port: int
    purpose: str
    stack_level: int
    kind: str
    unit: str
    # (startPeriod seconds, limit, numberPhases)
    periods: tuple[tuple[int, float, int], ...]
    received_at: datetime
    recurrency: str | None = None
    start_schedule: datetime | None = None
    duration_s: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | str | None = None


def read(profile: Payload, port: int, now: datetime) -> Installed:
    """A profile as either version words it (2.0.1: the first of its schedules)."""
    schedule = profile["chargingSchedule"]
    if isinstance(schedule, list):
        schedule = schedule[0]
    start = schedule.get("startSchedule")
    return Installed(
        id=int(profile["chargingProfileId"] if "chargingProfileId" in profile else profile["id"]),
        port=port,
        purpose=profile["chargingProfilePurpose"],
        stack_level=int(profile["stackLevel"]),
        kind=profile["chargingProfileKind"],
        unit=schedule["chargingRateUnit"],
        periods=tuple(
            (int(p["startPeriod"]), float(p["limit"]), int(p.get("numberPhases", PHASES)))
            for p in schedule["chargingSchedulePeriod"]
        ),
        received_at=now,
        recurrency=profile.get("recurrencyKind"),
        start_schedule=None if start is None else parse_ocpp(start),
        duration_s=schedule.get("duration"),
        valid_from=_time(profile.get("validFrom")),
        valid_to=_time(profile.get("validTo")),
        transaction_id=profile.get("transactionId"),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_ocpp(value)


@dataclass(slots=True)
class Profiles:
    """The profiles installed on one charger."""

    voltage_v: float = 230.0
    installed: list[Installed] = field(default_factory=list)

    def install(self, profile: Installed, v16: bool) -> bool:
        """Keep it, replacing one of the same id (1.6 also one of the same purpose and stack
        level on the port); False where 2.0.1 refuses a second of those (K01.FR.39)."""
        clash = [
            kept
            for kept in self.installed
            if kept.id != profile.id
            and (kept.port, kept.purpose, kept.stack_level)
            == (profile.port, profile.purpose, profile.stack_level)
        ]
        if clash and not v16:
            return False
        self.installed = [
            kept for kept in self.installed if kept.id != profile.id and kept not in clash
        ]
        self.installed.append(profile)
        return True

    def clear(
        self,
        profile_id: int | None,
        port: int | None,
        purpose: str | None,
        stack_level: int | None,
    ) -> bool:
        """ClearChargingProfile: by id, else by every criterion given. Whether any went."""

        def matches(kept: Installed) -> bool:
            if profile_id is not None:
                return kept.id == profile_id
            return (
                (port is None or kept.port == port)
                and (purpose is None or kept.purpose == purpose)
                and (stack_level is None or kept.stack_level == stack_level)
            )

        before = len(self.installed)
        self.installed = [kept for kept in self.installed if not matches(kept)]
        return len(self.installed) < before

    def transaction_ended(self, port: int) -> None:
        """A TxProfile lasts as long as its transaction."""
        self.installed = [p for p in self.installed if not (p.port == port and p.purpose == TX)]

    def limit(
        self, port: int, at: datetime, started_at: datetime | None, unit: str = RateUnit.amps
    ) -> float | None:
        """The limit on a port at `at`, in `unit` (None: no profile limits it). Port 0: the whole
        charger's own. `started_at`: its transaction's start (None: none runs)."""
        limits = [self._purpose_limit(CHARGER_MAX, 0, at, started_at, unit)]
        if port != 0:
            tx = None
            if started_at is not None:
                tx = self._purpose_limit(frozenset({TX}), port, at, started_at, unit)
            if tx is None:
                tx = self._purpose_limit(frozenset({TX_DEFAULT}), port, at, started_at, unit)
            limits.append(tx)
        found = [value for value in limits if value is not None]
        return min(found) if found else None

    def _purpose_limit(
        self,
        purposes: frozenset[str],
        port: int,
        at: datetime,
        started_at: datetime | None,
        unit: str,
    ) -> float | None:
        candidates = [p for p in self.installed if p.purpose in purposes and p.port in (0, port)]
        # Highest stack level first; on a tie the port's own before port 0's.
        candidates.sort(key=lambda p: (p.stack_level, p.port == port), reverse=True)
        for profile in candidates:
            value = self._profile_limit(profile, at, started_at)
            if value is not None:
                limit, phases = value
                return self._convert(limit, profile.unit, unit, phases)
        return None

    def _profile_limit(
        self, profile: Installed, at: datetime, started_at: datetime | None
    ) -> tuple[float, int] | None:
        """(limit, phases) of the period running at `at`; None outside its validity and its
        schedule."""
        if profile.valid_from is not None and at < profile.valid_from:
            return None
        if profile.valid_to is not None and at >= profile.valid_to:
            return None
        elapsed = self._elapsed(profile, at, started_at)
        if elapsed is None or elapsed < 0:
            return None
        if profile.duration_s is not None and elapsed >= profile.duration_s:
            return None
        running = [(limit, phases) for start, limit, phases in profile.periods if start <= elapsed]
        return running[-1] if running else None

    def _elapsed(
        self, profile: Installed, at: datetime, started_at: datetime | None
    ) -> float | None:
        match profile.kind:
            case Kind.relative:
                # From the start of charging (from now, while none runs).
                return 0.0 if started_at is None else (at - started_at).total_seconds()
            case Kind.recurring:
                if profile.start_schedule is None or profile.recurrency not in _REPEATS:
                    return None
                cycle = _REPEATS[profile.recurrency]
                return ((at - profile.start_schedule) % cycle).total_seconds()
            case _:
                start = profile.start_schedule or profile.received_at
                return (at - start).total_seconds()

    def _convert(self, limit: float, given: str, wanted: str, phases: int) -> float:
        if given == wanted:
            return limit
        per_amp = self.voltage_v * phases
        return round(limit * per_amp if wanted == RateUnit.watts else limit / per_amp, 1)

    def composite(
        self,
        port: int,
        start: datetime,
        duration_s: int,
        started_at: datetime | None,
        unit: str,
        fallback: float,
    ) -> list[Payload]:
        """GetCompositeSchedule: the periods of the port's limit over the next duration_s (the
        charger's own maximum, `fallback`, where no profile limits it)."""
        periods: list[Payload] = []
        for offset in self._edges(start, duration_s, started_at):
            value = self.limit(port, start + timedelta(seconds=offset), started_at, unit)
            limit = fallback if value is None else value
            if not periods or periods[-1]["limit"] != limit:
                periods.append({"startPeriod": offset, "limit": limit})
        return periods

    def _edges(self, start: datetime, duration_s: int, started_at: datetime | None) -> list[int]:
        """The seconds from `start` at which some profile's limit may change."""
        edges = {0}
        end = start + timedelta(seconds=duration_s)
        for profile in self.installed:
            origin = profile.start_schedule or profile.received_at
            if profile.kind == Kind.relative:
                origin = started_at or start
            recurring = profile.kind == Kind.recurring
            cycle = _REPEATS.get(profile.recurrency or "") if recurring else None
            if cycle is not None:
                # The cycle that is running at `start`, and those after it in the window.
                origin += cycle * ((start - origin) // cycle)
            points = [origin + timedelta(seconds=s) for s, _, _ in profile.periods]
            if profile.duration_s is not None:
                points.append(origin + timedelta(seconds=profile.duration_s))
            points += [t for t in (profile.valid_from, profile.valid_to) if t is not None]
            while cycle is not None and origin < end:
                origin += cycle
                points += [origin + timedelta(seconds=s) for s, _, _ in profile.periods]
            edges |= {math.ceil((t - start).total_seconds()) for t in points if start < t < end}
        return sorted(edges)
