"""The ledger: balances are sums of entries; a correction is a reversing entry, never an edit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LedgerEntry


async def balance(session: AsyncSession, account_id: int) -> int:
    """The account's balance in Rupiah."""
    statement = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id)
    return int((await session.execute(statement)).scalar_one())
