"""Local authorization lists: which of an operator's tokens a charger holds, and how a list is
brought from what the charger has to what it should have (a full list, or the differences), in
messages no longer than the charger takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from chargegate.domain.tokens import ID_TAG_16_MAX, ID_TAG_MAX, Authorization, TokenType, Verdict

# The WebSocket subprotocol of OCPP 1.6J, as a charger's ocpp_version holds it.
OCPP16_SUBPROTOCOL = "ocpp1.6"


class ListState(StrEnum):
    """Where a charger's local list stands."""

    IN_SYNC = "in_sync"
    # A sync is due or under way (after a token change, a reconnect, or a forced resend).
    PENDING = "pending"
    # The last sync did not take, and will not be retried until something changes.
    FAILED = "failed"
    # The charger has no local list (no LocalAuthListManagement, or it is disabled).
    UNSUPPORTED = "unsupported"


class ListAnswer(StrEnum):
    """A SendLocalList status (1.6 UpdateStatus, 2.0.1 SendLocalListStatusEnumType)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a charger said about its local list when asked after boot."""

    supported: bool
    # At most this many entries in one SendLocalList (None: it did not say).
    per_message: int | None = None
    # At most this many entries in the list (None: it did not say).
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One token as a charger's list holds it; without authorization it is one to remove
    (a differential update's way of deleting)."""

    id_tag: str
    type: TokenType
    authorization: Authorization | None


# Which tokens a full list keeps first: a charger working offline needs the cards it must let
# charge more than the ones it must refuse (those are refused anyway once not on the list and
# not in its cache, unless it accepts unknown cards offline).
_RANK = {Verdict.ACCEPTED: 0, Verdict.BLOCKED: 1, Verdict.EXPIRED: 2, Verdict.INVALID: 3}


def tag_max(subprotocol: str | None) -> int:
    """The longest token a charger's list can hold: a 1.6 idTag is 20 characters."""
    return ID_TAG_16_MAX if subprotocol == OCPP16_SUBPROTOCOL else ID_TAG_MAX


def chosen(entries: Iterable[Entry], capacity: int | None, tag_max: int) -> list[Entry]:
    """The entries a charger's full list holds: those it can take (an idTag at most tag_max
    long), Accepted first, then Blocked, then Expired, each by id_tag, cut at its capacity."""
    fitting = [
        entry
        for entry in entries
        if entry.authorization is not None and len(entry.id_tag) <= tag_max
    ]
    fitting.sort(key=lambda entry: (_rank(entry), entry.id_tag.upper()))
    return fitting if capacity is None else fitting[: max(capacity, 0)]


def _rank(entry: Entry) -> int:
    assert entry.authorization is not None
    return _RANK[entry.authorization.verdict]


def differences(held: Sequence[Entry], wanted: Sequence[Entry]) -> list[Entry]:
    """What turns the list `held` into `wanted`: entries new or changed, and each token to go
    as an entry without authorization."""
    before = {entry.id_tag.upper(): entry for entry in held}
    after = {entry.id_tag.upper(): entry for entry in wanted}
    changed = [entry for key, entry in after.items() if before.get(key) != entry]
    gone = [
        Entry(entry.id_tag, entry.type, None) for key, entry in before.items() if key not in after
    ]
    # Removals first: a charger at capacity needs the room before it takes the new ones.
    return gone + changed


@dataclass(frozen=True, slots=True)
class Message:
    """One SendLocalList: `full` replaces the charger's list, else it is a differential."""

    version: int
    full: bool
    entries: tuple[Entry, ...]


def full_messages(entries: Sequence[Entry], after: int, per_message: int | None) -> list[Message]:
    """A full list as messages: the first replaces the charger's list (an empty list too), the
    rest add to it as differentials; versions count up from after + 1."""
    parts = _split(entries, per_message) or [()]
    return [
        Message(version=after + 1 + n, full=n == 0, entries=part) for n, part in enumerate(parts)
    ]


def differential_messages(
    changes: Sequence[Entry], current: int, per_message: int | None
) -> list[Message]:
    """Changes as differentials, each one version on from the charger's current one."""
    return [
        Message(version=current + 1 + n, full=False, entries=part)
        for n, part in enumerate(_split(changes, per_message))
    ]


def _split(entries: Sequence[Entry], per_message: int | None) -> list[tuple[Entry, ...]]:
    size = len(entries) if per_message is None or per_message < 1 else per_message
    return [tuple(entries[n : n + size]) for n in range(0, len(entries), max(size, 1))]


@dataclass(frozen=True, slots=True)
class Plan:
    """A sync as the charger side carries it out: it asks the charger's version first; if that
    is `version` (what we last had accepted) and no full list is due, it sends `changes`, else
    the full list `entries`."""

    version: int
    full: bool
    entries: tuple[Entry, ...]
    changes: tuple[Entry, ...]
    per_message: int | None

    def messages(self, charger_version: int | None) -> list[Message]:
        """For the version the charger reported (None: it would not say; 1.6 says -1 for no
        list): the full list unless it holds what we last sent."""
        if not self.full and charger_version == self.version:
            return differential_messages(self.changes, self.version, self.per_message)
        # Above both versions, so that a charger holding a list we do not know of (another
        # CSMS's, or ours from before a restore) sees a new one.
        after = max(self.version, charger_version or 0)
        return full_messages(self.entries, after, self.per_message)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a local-list exchange came to: the version the charger reported (None: not asked),
    the messages it accepted, in order, and its answer to the last one sent (None: none sent)."""

    charger_version: int | None
    sent: tuple[Message, ...] = ()
    answer: ListAnswer | None = None
