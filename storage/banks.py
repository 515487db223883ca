"""Waste banks, their price lists (with history) and members' accounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Account, LedgerEntry, Price, WasteBank, WasteBankRW, WasteCategory


async def categories(session: AsyncSession) -> list[WasteCategory]:
    return list((await session.execute(select(WasteCategory).order_by(WasteCategory.position))).scalars())


async def bank_for_rw(session: AsyncSession, rw_id: int) -> WasteBank | None:
    """The waste bank serving an RW, if one is registered."""
    statement = select(WasteBank).join(WasteBankRW).where(WasteBankRW.rw_id == rw_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def price_list(session: AsyncSession, bank_id: int | None, on: date) -> dict[str, int]:
    """Rupiah per kg per category in force on a date: the bank's own prices over the city defaults."""
    latest = (
        select(Price.bank_id, Price.category_code, func.max(Price.effective_from).label("since"))
        .where(Price.effective_from <= on, (Price.bank_id == bank_id) | Price.bank_id.is_(None))
        .group_by(Price.bank_id, Price.category_code)
        .subquery()
    )
    statement = select(Price).join(
        latest,
        (Price.category_code == latest.c.category_code)
        & (Price.effective_from == latest.c.since)
        & ((Price.bank_id == latest.c.bank_id) | (Price.bank_id.is_(None) & latest.c.bank_id.is_(None))),
    )
    prices: dict[str, int] = {}
    for price in sorted((await session.execute(statement)).scalars(), key=lambda p: p.bank_id is not None):
        prices[price.category_code] = price.rupiah_per_kg  # the bank's own price, read last, wins
    return prices


async def ensure_account(session: AsyncSession, person_id: int, bank_id: int) -> Account:
    """The person's account at the bank, opened with the bank's next member number if new."""
    statement = select(Account).where(Account.person_id == person_id, Account.bank_id == bank_id)
    account = (await session.execute(statement)).scalar_one_or_none()
    if account is not None:
        return account
    bank = (await session.execute(select(WasteBank).where(WasteBank.id == bank_id).with_for_update())).scalar_one()
    account = Account(person_id=person_id, bank_id=bank_id, member_number=bank.next_member_number)
    bank.next_member_number += 1
    session.add(account)
    await session.flush()
    return account


async def accounts_of(session: AsyncSession, person_id: int) -> list[Account]:
    statement = (
        select(Account).options(joinedload(Account.bank)).where(Account.person_id == person_id).order_by(Account.id)
    )
    return list((await session.execute(statement)).scalars())


async def savings(session: AsyncSession, person_id: int) -> list[tuple[Account, int]]:
    """Each of the person's accounts (bank loaded) with its balance, in one query."""
    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    statement = (
        select(Account, total)
        .options(joinedload(Account.bank))
        .outerjoin(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(Account.person_id == person_id)
        .group_by(Account.id)
        .order_by(Account.id)
    )
    return [(account, int(amount)) for account, amount in (await session.execute(statement)).unique().all()]
