"""Errors the flows raise; the API maps each to its status code, with the message as the body."""

from __future__ import annotations

from dataclasses import dataclass


class ChargegateError(Exception):
    """The root of every exception chargegate raises on purpose: `except ChargegateError` is
    what a caller of ours catches, and anything else is a bug."""


@dataclass(frozen=True, slots=True)
class ItemError:
    """What is wrong with one item (by its index) of a request refused as a whole."""

    index: int
    message: str


class DomainError(ChargegateError):
    def __init__(self, message: str, items: tuple[ItemError, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        # The items at fault, when the request is a list (a token import): the API lists them.
        self.items = items


class InvalidArgument(DomainError):
    """The request's arguments are missing, of the wrong type or out of range (400)."""


class OutOfRange(InvalidArgument):
    """A charger's value that its schema allows but we do not take; chargers get a
    PropertyConstraintViolation CALLERROR."""


class UnknownConnector(OutOfRange):
    """A connector (EVSE) that is neither a port registered for the charger nor one that may be
    created on first use."""


class UnusableReading(OutOfRange):
    """A meter reading no meter makes (NaN, Infinity, a multiplier beyond -9..9, more than a
    meter column holds), in a message that carries nothing else worth keeping."""


class NotFound(DomainError):
    """No such record for this operator, or it belongs to someone else (404)."""


class AlreadyEnded(DomainError):
    """The transaction has ended and cannot be modified (403)."""


class Forbidden(DomainError):
    """The API key's role does not allow this endpoint (403)."""


class Conflict(DomainError):
    """The request clashes with the current state, e.g. a port already in use (409)."""


class TooLarge(DomainError):
    """More items in one request than it may hold (413)."""


class Unauthorized(DomainError):
    """Missing, malformed or unknown API key (401)."""


class TooManyRequests(DomainError):
    """Over a rate limit (429); `Retry-After` says in whole seconds when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
