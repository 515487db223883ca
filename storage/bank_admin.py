"""Registering waste banks and keeping their prices and weighing schedules."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import RW, Kecamatan, Kelurahan, Price, WasteBank, WasteBankRW


async def kelurahan_of(session: AsyncSession, rw_ids: Collection[int]) -> list[Kelurahan]:
    """The kelurahan the RWs lie in, by name, with kecamatan and kota loaded."""
    statement = (
        select(Kelurahan)
        .options(joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota))
        .where(Kelurahan.code.in_(select(RW.kelurahan_code).where(RW.id.in_(list(rw_ids)))))
        .order_by(Kelurahan.name)
    )
    return list((await session.execute(statement)).scalars())


async def served_by(session: AsyncSession, rw_ids: Collection[int]) -> dict[int, WasteBank]:
    """The bank already serving each of the RWs that has one."""
    statement = select(WasteBankRW.rw_id, WasteBank).join(WasteBank).where(WasteBankRW.rw_id.in_(list(rw_ids)))
    return {rw_id: served for rw_id, served in (await session.execute(statement)).all()}


async def register_bank(
    session: AsyncSession,
    *,
    name: str,
    address: str,
    rw_ids: Sequence[int],
    weekday: int | None,
    at: time | None,
    now: datetime,
) -> WasteBank:
    """A new bank serving the RWs (the caller checked that none is served already)."""
    new = WasteBank(
        name=name, address=address, weighing_weekday=weekday, weighing_time=at, created_at=now,
        rws=[WasteBankRW(rw_id=rw_id) for rw_id in sorted(set(rw_ids))],
    )
    session.add(new)
    await session.flush()
    return new


async def set_price(
    session: AsyncSession, bank_id: int, category_code: str, rupiah_per_kg: int, effective_from: date, now: datetime
) -> int | None:
    """A new price from a date on, earlier prices kept; a price already set for that very date is
    corrected in place (one row per bank, category and date) and its old value returned."""
    statement = select(Price).where(
        Price.bank_id == bank_id, Price.category_code == category_code, Price.effective_from == effective_from
    )
    same_day = (await session.execute(statement.with_for_update())).scalar_one_or_none()
    if same_day is not None:
        previous, same_day.rupiah_per_kg, same_day.created_at = same_day.rupiah_per_kg, rupiah_per_kg, now
        return previous
    session.add(
        Price(bank_id=bank_id, category_code=category_code, rupiah_per_kg=rupiah_per_kg,
              effective_from=effective_from, created_at=now)
    )
    await session.flush()
    return None


async def upcoming_prices(session: AsyncSession, bank_id: int, category_code: str, after: date) -> list[tuple[date, int]]:
    """(effective from, Rupiah per kg) of the bank's prices for a category that start after a date."""
    statement = (
        select(Price.effective_from, Price.rupiah_per_kg)
        .where(Price.bank_id == bank_id, Price.category_code == category_code, Price.effective_from > after)
        .order_by(Price.effective_from)
    )
    return [(day, int(rupiah)) for day, rupiah in (await session.execute(statement)).all()]
