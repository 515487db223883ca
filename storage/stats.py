"""Figures for coordinators, limited to a set of RWs (None means every RW)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RW, Kelurahan, Person, WasteReport, WasteReportItem
from storage.reports import VERIFIED

Scope = Collection[int] | None


def _within(statement: Select, column, rw_ids: Scope) -> Select:  # type: ignore[type-arg, no-untyped-def]
    return statement if rw_ids is None else statement.where(column.in_(list(rw_ids)))


async def verified_grams_by_category(session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime) -> dict[str, int]:
    statement = (
        select(WasteReportItem.category_code, func.sum(WasteReportItem.grams))
        .join(WasteReport)
        .where(WasteReport.status == VERIFIED, WasteReport.reported_at >= start, WasteReport.reported_at < end)
        .group_by(WasteReportItem.category_code)
    )
    rows = await session.execute(_within(statement, WasteReport.rw_id, rw_ids))
    return {code: int(grams) for code, grams in rows.all()}


async def residents_registered(session: AsyncSession, rw_ids: Scope) -> int:
    statement = select(func.count()).select_from(Person).where(Person.rw_id.is_not(None), Person.consent_at.is_not(None))
    return int((await session.execute(_within(statement, Person.rw_id, rw_ids))).scalar_one())


async def residents_reporting(session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime) -> int:
    statement = select(func.count(func.distinct(WasteReport.person_id))).where(
        WasteReport.person_id.is_not(None), WasteReport.reported_at >= start, WasteReport.reported_at < end
    )
    return int((await session.execute(_within(statement, WasteReport.rw_id, rw_ids))).scalar_one())


async def top_rws(
    session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime, limit: int = 5
) -> list[tuple[str, int, int]]:
    """(kelurahan, RW number, verified grams) of the RWs with most verified waste."""
    grams = func.sum(WasteReportItem.grams)
    statement = (
        select(Kelurahan.name, RW.number, grams)
        .select_from(WasteReport)
        .join(WasteReportItem)
        .join(RW, RW.id == WasteReport.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .where(WasteReport.status == VERIFIED, WasteReport.reported_at >= start, WasteReport.reported_at < end)
        .group_by(Kelurahan.name, RW.number)
        .order_by(grams.desc(), Kelurahan.name, RW.number)
        .limit(limit)
    )
    rows = await session.execute(_within(statement, WasteReport.rw_id, rw_ids))
    return [(name, int(number), int(total)) for name, number, total in rows.all()]
