"""Figures for coordinators, limited to a set of RWs (None means every RW): waste, and what
collaborators and residents have put toward the RWs' upgrading offers."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import pledges
from storage.models import RW, Kelurahan, Offer, Package, Person, Pledge, WasteReport, WasteReportItem
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


@dataclass(frozen=True)
class PledgeFigures:
    """What one RW's offer of one package holds, in Rupiah: holds still running (`pledged`),
    confirmed without funds yet, funds received (received, works in progress or completed), and
    residents' gifts of savings."""

    rw_id: int
    kelurahan: str
    rw: int
    package: str  # its name
    package_code: str
    pledged: int = 0
    confirmed: int = 0
    received: int = 0
    sedekah: int = 0

    @property
    def total(self) -> int:
        return self.pledged + self.confirmed + self.received + self.sedekah


def _rupiah_where(condition) -> ColumnElement[int]:  # type: ignore[no-untyped-def]
    return func.coalesce(func.sum(case((condition, Pledge.amount), else_=0)), 0)


async def pledge_figures(session: AsyncSession, rw_ids: Scope, now: datetime) -> list[PledgeFigures]:
    """Per RW and package (by kelurahan, RW number, package order), what its pledges and gifts hold
    at `now`, counted as every availability query counts (a lapsed hold never counts); only offers
    holding something."""
    collaborator = Pledge.source == pledges.PLEDGE
    statement = (
        select(
            RW.id, Kelurahan.name, RW.number, Package.name, Package.code,
            _rupiah_where(and_(collaborator, Pledge.status == pledges.PLEDGED)),
            _rupiah_where(and_(collaborator, Pledge.status == pledges.CONFIRMED)),
            _rupiah_where(and_(collaborator, Pledge.status.in_((pledges.RECEIVED, pledges.IN_PROGRESS,
                                                               pledges.COMPLETED)))),
            _rupiah_where(Pledge.source == pledges.SEDEKAH),
        )
        .select_from(Pledge)
        .join(Offer, Offer.id == Pledge.offer_id)
        .join(Package, Package.code == Offer.package_code)
        .join(RW, RW.id == Offer.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .where(pledges.counting(now))
        .group_by(RW.id, Kelurahan.name, RW.number, Package.code, Package.name, Package.position)
        .order_by(Kelurahan.name, RW.number, RW.id, Package.position)
    )
    rows = await session.execute(_within(statement, Offer.rw_id, rw_ids))
    return [PledgeFigures(int(rw_id), kelurahan, int(number), package, code, *(int(amount) for amount in amounts))
            for rw_id, kelurahan, number, package, code, *amounts in rows.all()]


def pledge_totals(figures: Collection[PledgeFigures]) -> PledgeFigures:
    """The sums of many offers' figures (no RW, no package)."""
    return PledgeFigures(0, "", 0, "", "", *(sum(getattr(f, name) for f in figures)
                                      for name in ("pledged", "confirmed", "received", "sedekah")))
