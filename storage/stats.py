"""Figures for coordinators, limited to a set of RWs (None means every RW): waste, and what
collaborators and residents have put toward the RWs' upgrading offers. Waste over whole Jakarta
months is read from the monthly rollups (storage/models/stats.py, kept current by triggers), the rest
of a range from the reports themselves, so a month for the whole city sums thousands of rows, not
millions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock, pledges
from storage.models import RW, Kelurahan, Offer, Package, Person, Pledge, WasteReport, WasteReportItem
from storage.models.stats import MoverMonthly, ReporterCountMonthly, ReportersMonthly, VerifiedMonthly
from storage.reports import VERIFIED

Scope = Collection[int] | None
ROLLUP_ZONE = "Asia/Jakarta"  # the rollups' months are Jakarta's (UTC+7 all year; migration 0007's triggers)


def _within(statement: Select, column, rw_ids: Scope) -> Select:  # type: ignore[type-arg, no-untyped-def]
    return statement if rw_ids is None else statement.where(column.in_(list(rw_ids)))


def local_month(moment: datetime) -> date:
    """The first day of the moment's month in Jakarta: a rollup row's month."""
    return moment.astimezone(ZoneInfo(ROLLUP_ZONE)).date().replace(day=1)


def _month_start(day: date) -> datetime:
    return datetime.combine(day.replace(day=1), time(), tzinfo=ZoneInfo(ROLLUP_ZONE))


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Split:
    """A range [start, end) as the whole months within it, [first, stop) by their first day, and the
    moments before and after them (`edges`) that the rollups cannot answer."""

    first: date | None = None
    stop: date | None = None
    edges: list[tuple[datetime, datetime]] = field(default_factory=list)


def split(start: datetime, end: datetime) -> Split:
    if start >= end:
        return Split()
    if clock.zone().key != ROLLUP_ZONE:  # months elsewhere do not line up with the rollups'
        return Split(edges=[(start, end)])
    first = _month_start(local_month(start))
    if first < start:
        first = _month_start(_next_month(first.date()))
    stop = _month_start(local_month(end))
    if first >= stop:
        return Split(edges=[(start, end)])
    edges = [(a, b) for a, b in ((start, first), (stop, end)) if a < b]
    return Split(first.date(), stop.date(), edges)


def _verified(rw_ids: Scope, start: datetime, end: datetime, key) -> Select:  # type: ignore[type-arg, no-untyped-def]
    """(key, grams) rows that sum to the verified grams of [start, end): rollup rows for whole months,
    item rows for the rest; `key` names the rollup's and the report's column (category or RW)."""
    parts = []
    whole = split(start, end)
    if whole.first is not None:
        rolled = select(getattr(VerifiedMonthly, key).label("key"), VerifiedMonthly.grams.label("grams")).where(
            VerifiedMonthly.month >= whole.first, VerifiedMonthly.month < whole.stop
        )
        parts.append(_within(rolled, VerifiedMonthly.rw_id, rw_ids))
    for a, b in whole.edges:
        column = WasteReportItem.category_code if key == "category_code" else WasteReport.rw_id
        raw = (
            select(column.label("key"), WasteReportItem.grams.label("grams"))
            .join(WasteReport, WasteReport.id == WasteReportItem.report_id)
            .where(WasteReport.status == VERIFIED, WasteReport.reported_at >= a, WasteReport.reported_at < b)
        )
        parts.append(_within(raw, WasteReport.rw_id, rw_ids))
    if not parts:  # an empty range
        return select(getattr(VerifiedMonthly, key).label("key"), VerifiedMonthly.grams.label("grams")).where(False)
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


async def verified_grams_by_category(session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime) -> dict[str, int]:
    rows = _verified(rw_ids, start, end, "category_code").subquery()
    statement = select(rows.c.key, func.sum(rows.c.grams)).group_by(rows.c.key)
    return {code: int(grams) for code, grams in (await session.execute(statement)).all()}


async def residents_registered(session: AsyncSession, rw_ids: Scope) -> int:
    statement = select(func.count()).select_from(Person).where(Person.rw_id.is_not(None), Person.consent_at.is_not(None))
    return int((await session.execute(_within(statement, Person.rw_id, rw_ids))).scalar_one())


async def residents_reporting(session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime) -> int:
    """People with at least one report (of any status) in [start, end) in the RWs."""
    whole = split(start, end)
    if whole.first is not None and not whole.edges and whole.stop == _next_month(whole.first):
        return await _reporting_in_month(session, rw_ids, whole.first)
    parts = []
    if whole.first is not None:
        rolled = select(ReportersMonthly.person_id.label("person_id")).where(
            ReportersMonthly.month >= whole.first, ReportersMonthly.month < whole.stop
        )
        parts.append(_within(rolled, ReportersMonthly.rw_id, rw_ids))
    for a, b in whole.edges:
        raw = select(WasteReport.person_id.label("person_id")).where(
            WasteReport.person_id.is_not(None), WasteReport.reported_at >= a, WasteReport.reported_at < b
        )
        parts.append(_within(raw, WasteReport.rw_id, rw_ids))
    if not parts:
        return 0
    people = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    distinct = select(people.c.person_id).distinct().subquery()  # hashed, where count(DISTINCT) would sort
    return int((await session.execute(select(func.count()).select_from(distinct))).scalar_one())


async def _reporting_in_month(session: AsyncSession, rw_ids: Scope, month: date) -> int:
    """People reporting in one whole month: each RW's count, less the second (third…) RW of those who
    reported in more than one of the RWs (the few movers), so nobody counts twice."""
    per_rw = select(func.coalesce(func.sum(ReporterCountMonthly.people), 0)).where(ReporterCountMonthly.month == month)
    in_rws = (
        select(func.count().label("rws"))
        .select_from(MoverMonthly)
        .join(ReportersMonthly, (ReportersMonthly.month == MoverMonthly.month)
              & (ReportersMonthly.person_id == MoverMonthly.person_id))
        .where(MoverMonthly.month == month)
        .group_by(MoverMonthly.person_id)
    )
    movers = _within(in_rws, ReportersMonthly.rw_id, rw_ids).subquery()
    twice = select(func.coalesce(func.sum(movers.c.rws - 1), 0))
    statement = select(_within(per_rw, ReporterCountMonthly.rw_id, rw_ids).scalar_subquery() - twice.scalar_subquery())
    return int((await session.execute(statement)).scalar_one())


async def top_rws(
    session: AsyncSession, rw_ids: Scope, start: datetime, end: datetime, limit: int = 5
) -> list[tuple[str, int, int]]:
    """(kelurahan, RW number, verified grams) of the RWs with most verified waste."""
    rows = _verified(rw_ids, start, end, "rw_id").subquery()
    per_rw = select(rows.c.key.label("rw_id"), func.sum(rows.c.grams).label("grams")).group_by(rows.c.key).subquery()
    grams = func.sum(per_rw.c.grams)
    statement = (
        select(Kelurahan.name, RW.number, grams)
        .select_from(per_rw)
        .join(RW, RW.id == per_rw.c.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .group_by(Kelurahan.name, RW.number)
        .order_by(grams.desc(), Kelurahan.name, RW.number)
        .limit(limit)
    )
    return [(name, int(number), int(total)) for name, number, total in (await session.execute(statement)).all()]


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
