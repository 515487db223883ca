"""Residents' waste reports and the figures drawn from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import RW, WasteReport, WasteReportItem

REPORTED, VERIFIED, REJECTED = "reported", "verified", "rejected"
SETTLED = "settled"  # a self-report covered by a weigh-in, never credited itself
REVERSED = "reversed"  # a weigh-in whose deposit a coordinator reversed
NOT_COUNTED = (REJECTED, SETTLED, REVERSED)  # kilograms of these are counted elsewhere or not at all


async def create_report(
    session: AsyncSession,
    *,
    person_id: int,
    rw_id: int,
    bank_id: int | None,
    items: Sequence[tuple[str, int]],
    prices: dict[str, int],
    photo: str | None,
    now: datetime,
) -> WasteReport:
    """Store a report as reported (awaiting weighing), pricing each item at the list in force."""
    report = WasteReport(
        person_id=person_id,
        rw_id=rw_id,
        bank_id=bank_id,
        status=REPORTED,
        photo=photo,
        reported_at=now,
        items=[WasteReportItem(category_code=code, grams=grams, rupiah_per_kg=prices.get(code, 0)) for code, grams in items],
    )
    session.add(report)
    await session.flush()
    return report


async def recent_reports(session: AsyncSession, person_id: int, limit: int = 3) -> list[WasteReport]:
    statement = (
        select(WasteReport)
        .options(selectinload(WasteReport.items))
        .where(WasteReport.person_id == person_id)
        .order_by(WasteReport.reported_at.desc(), WasteReport.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def pending(session: AsyncSession, person_id: int) -> tuple[int, int]:
    """How many reports await weighing, and their estimated value in Rupiah."""
    value = (WasteReportItem.grams * WasteReportItem.rupiah_per_kg + 500) / 1000
    statement = (
        select(func.count(func.distinct(WasteReport.id)), func.coalesce(func.sum(func.floor(value)), 0))
        .join(WasteReportItem)
        .where(WasteReport.person_id == person_id, WasteReport.status == REPORTED)
    )
    reports, rupiah = (await session.execute(statement)).one()
    return int(reports), int(rupiah)


async def grams_between(session: AsyncSession, person_id: int, start: datetime, end: datetime) -> int:
    """Grams the person sorted in [start, end): reported or verified, each kilogram once."""
    statement = (
        select(func.coalesce(func.sum(WasteReportItem.grams), 0))
        .join(WasteReport)
        .where(
            WasteReport.person_id == person_id,
            WasteReport.status.notin_(NOT_COUNTED),
            WasteReport.reported_at >= start,
            WasteReport.reported_at < end,
        )
    )
    return int((await session.execute(statement)).scalar_one())


async def report_times(session: AsyncSession, person_id: int, since: datetime) -> list[datetime]:
    statement = select(WasteReport.reported_at).where(
        WasteReport.person_id == person_id, WasteReport.status != REJECTED, WasteReport.reported_at >= since
    )
    return list((await session.execute(statement)).scalars())


async def verified_grams_by_rw(
    session: AsyncSession, kelurahan_code: str, start: datetime, end: datetime
) -> dict[int, int]:
    """Verified grams per RW number of a kelurahan in [start, end)."""
    statement = (
        select(RW.number, func.sum(WasteReportItem.grams))
        .select_from(WasteReport)
        .join(WasteReportItem)
        .join(RW, RW.id == WasteReport.rw_id)
        .where(
            RW.kelurahan_code == kelurahan_code,
            WasteReport.status == VERIFIED,
            WasteReport.reported_at >= start,
            WasteReport.reported_at < end,
        )
        .group_by(RW.number)
    )
    return {int(number): int(grams) for number, grams in (await session.execute(statement)).all()}
