"""Withdrawals: the amount is held at once under a lock on the account, so a balance never goes
negative; a coordinator then marks it paid (the hold stays as the debit) or declined (a reversing
entry releases it), under a lock on the withdrawal, so it is decided once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.ledger import balance
from storage.locks import locked
from storage.models import (
    Account,
    LedgerEntry,
    Person,
    WasteBank,
    Withdrawal,
)

HELD, PAID, DECLINED = "held", "paid", "declined"
HOLD, RELEASE = "withdrawal_hold", "withdrawal_release"
ABOVE_BALANCE, NOT_POSITIVE, NOT_FOUND, ALREADY_DECIDED = "above_balance", "not_positive", "not_found", "already_decided"


@dataclass(frozen=True)
class Refusal:
    """Why nothing changed: `balance` for ABOVE_BALANCE, `status` for ALREADY_DECIDED."""

    reason: str
    balance: int = 0
    status: str | None = None


@dataclass(frozen=True)
class Pending:
    """A withdrawal with the account, bank and (unless erased) person it belongs to."""

    withdrawal: Withdrawal
    account: Account
    bank: WasteBank
    person: Person | None


async def lock_account(session: AsyncSession, account_id: int) -> bool:
    """Lock the account row until the transaction ends (False: no such account). Every debit takes
    this lock before it reads the balance; SQLite needs none, as `BEGIN IMMEDIATE` serialises writers."""
    statement = select(Account.id).where(Account.id == account_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def lock_withdrawal(session: AsyncSession, withdrawal_id: int) -> Withdrawal | None:
    return await locked(session, Withdrawal, withdrawal_id)


async def request_withdrawal(
    session: AsyncSession, account_id: int, amount: int, now: datetime
) -> Withdrawal | Refusal:
    """Hold `amount` from the account (a withdrawal row and a negative entry), or refuse."""
    if amount <= 0:
        return Refusal(NOT_POSITIVE)
    if not await lock_account(session, account_id):
        return Refusal(NOT_FOUND)
    available = await balance(session, account_id)
    if amount > available:
        return Refusal(ABOVE_BALANCE, balance=available)
    withdrawal = Withdrawal(account_id=account_id, amount=amount, status=HELD, requested_at=now)
    session.add(withdrawal)
    await session.flush()
    session.add(LedgerEntry(account_id=account_id, amount=-amount, kind=HOLD, withdrawal_id=withdrawal.id, created_at=now))
    await session.flush()
    return withdrawal


async def decide(
    session: AsyncSession, withdrawal_id: int, status: str, by: int | None, now: datetime
) -> Withdrawal | Refusal:
    """Mark a held withdrawal PAID or DECLINED (releasing the hold); a decided one stays as it is."""
    if status not in (PAID, DECLINED):
        raise ValueError(f"a withdrawal is decided as {PAID!r} or {DECLINED!r}, not {status!r}")
    withdrawal = await lock_withdrawal(session, withdrawal_id)
    if withdrawal is None:
        return Refusal(NOT_FOUND)
    if withdrawal.status != HELD:
        return Refusal(ALREADY_DECIDED, status=withdrawal.status)
    withdrawal.status, withdrawal.decided_at, withdrawal.decided_by = status, now, by
    if status == DECLINED:
        hold = (
            await session.execute(
                select(LedgerEntry).where(LedgerEntry.withdrawal_id == withdrawal.id, LedgerEntry.kind == HOLD)
            )
        ).scalar_one()
        session.add(
            LedgerEntry(account_id=hold.account_id, amount=-hold.amount, kind=RELEASE, withdrawal_id=withdrawal.id,
                        reverses_id=hold.id, created_at=now)
        )
    await session.flush()
    return withdrawal


def _pending_query() -> Select[tuple[Withdrawal, Account, WasteBank, Person]]:
    return (
        select(Withdrawal, Account, WasteBank, Person)
        .join(Account, Account.id == Withdrawal.account_id)
        .join(WasteBank, WasteBank.id == Account.bank_id)
        .outerjoin(Person, Person.id == Account.person_id)
    )


async def held(session: AsyncSession, bank_ids: Collection[int], limit: int) -> tuple[list[Pending], int]:
    """Held withdrawals at these banks, oldest first (at most `limit`), and how many there are in all."""
    where = (Withdrawal.status == HELD, Account.bank_id.in_(list(bank_ids)))
    statement = _pending_query().where(*where).order_by(Withdrawal.requested_at, Withdrawal.id).limit(limit)
    rows = [Pending(*row) for row in (await session.execute(statement)).all()]
    total = select(func.count()).select_from(Withdrawal).join(Account, Account.id == Withdrawal.account_id).where(*where)
    return rows, int((await session.execute(total)).scalar_one())


async def details(session: AsyncSession, withdrawal_id: int) -> Pending | None:
    """One withdrawal, whatever its status, with its account, bank and person."""
    row = (await session.execute(_pending_query().where(Withdrawal.id == withdrawal_id))).one_or_none()
    return Pending(*row) if row else None
