"""The fail-safe: a TxProfile that cuts the current at `expires`, so that a charger stops on
time even when we cannot reach it. Every decision about it is here: when a command carries one,
when the charger holds one, and when it must be moved to a new expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import CommandAction, TransactionAction, TransactionState
from chargegate.services.commands import TransactionOrder
from chargegate.store import commands as command_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Transaction


def carried(action: CommandAction, smart_charging: bool, expires_at: datetime | None) -> bool:
    """Whether a command carries the profile: a start or an update, to a charger that takes
    profiles, for a session with an expiry."""
    return (
        action in (TransactionAction.START, TransactionAction.PROFILE)
        and smart_charging
        and expires_at is not None
    )


def out_of_date(
    state: TransactionState, profile_until: datetime | None, expires_at: datetime | None
) -> bool:
    """Whether an open transaction's charger holds a profile that ends at an old expiry."""
    return (
        state == TransactionState.OPEN and profile_until is not None and profile_until != expires_at
    )


def unsent(
    state: TransactionState, profile_until: datetime | None, expires_at: datetime | None
) -> bool:
    """Whether a queued TxProfile update still has work to do: the charger holds no profile
    ending at the expiry (an older one, or none since a clear took it)."""
    return state == TransactionState.OPEN and profile_until != expires_at


def taken(transaction: Transaction, order: TransactionOrder) -> None:
    """The charger accepted a command that carried the profile: it now ends at that expiry."""
    if order.fail_safe:
        transaction.profile_until = order.expires_at


async def move(session: AsyncSession, transaction: Transaction, now: datetime) -> bool:
    """If the charger holds a TxProfile ending at an old expiry, queue its update; True if
    that queued a command."""
    if not out_of_date(
        transaction.state, transaction.profile_until, transaction.expires_at
    ) or await command_store.has_outstanding(session, transaction.id, TransactionAction.PROFILE):
        return False
    charger = await tx_store.transaction_charger(session, transaction)
    command_store.add_command(
        session,
        charger_id=charger.id,
        transaction_id=transaction.id,
        action=TransactionAction.PROFILE,
        now=now,
    )
    return True


async def cleared(
    session: AsyncSession, charger_id: int, profile_id: int | None, now: datetime
) -> None:
    """A ClearChargingProfile the charger took may have removed the start's TxProfiles (by
    their id, the transaction's, or by criteria that match them): each goes out again."""
    for transaction in await tx_store.holding_profiles(session, charger_id):
        if profile_id is not None and profile_id != transaction.id:
            continue
        # No longer held: the update goes out even for an expiry that has not moved.
        transaction.profile_until = None
        if await command_store.has_outstanding(session, transaction.id, TransactionAction.PROFILE):
            continue
        command_store.add_command(
            session,
            charger_id=charger_id,
            transaction_id=transaction.id,
            action=TransactionAction.PROFILE,
            now=now,
        )
