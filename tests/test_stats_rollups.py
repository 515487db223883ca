"""The statistics rollups (migration 0007) stay equal to what the reports say through every kind of
write a coordinator or a resident makes (reports, approval with corrected weights, rejection,
weigh-ins settling self-reports, reversal, erasure, joining two people, moves, deletion), and the
statistics read from them equal the same figures counted from the reports, for any range."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from storage import stats, weighin
from storage.banks import ensure_account
from storage.db import Database
from storage.erasure import erase_person
from storage.joining import join
from storage.models import (
    RW,
    Kelurahan,
    MoverMonthly,
    Person,
    ReporterCountMonthly,
    ReportersMonthly,
    VerifiedMonthly,
    WasteReport,
    WasteReportItem,
)
from storage.places import get_or_create_rw
from storage.reports import VERIFIED, create_report

KEBON_MELATI, MENTENG = "31.71.07.1005", "31.71.06.1001"
PRICES = {"plastik_pet": 3000, "kertas_kardus": 1500, "kaca": 500}
# Around midnight in Jakarta at the turn of October: 23.30 on the 31st and 00.30 on 1 November.
LATE_OCTOBER = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
EARLY_NOVEMBER = datetime(2026, 10, 31, 17, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def jakarta_month(moment: datetime) -> date:
    return stats.local_month(moment)


async def person(session, name: str, rw_id: int) -> int:  # type: ignore[no-untyped-def]
    someone = Person(locale="id", name=name, consent_at=NOW, consent_version="2026-11", rw_id=rw_id)
    session.add(someone)
    await session.flush()
    return someone.id


async def counted_from_reports(db: Database) -> tuple[Counter, Counter, Counter]:  # type: ignore[type-arg]
    """(month, RW, category) → verified grams and → items, and (month, RW, person) → reports, from the reports."""
    grams: Counter = Counter()  # type: ignore[type-arg]
    items: Counter = Counter()  # type: ignore[type-arg]
    reporters: Counter = Counter()  # type: ignore[type-arg]
    async with db.transaction() as session:
        for report in (await session.execute(select(WasteReport).options(selectinload(WasteReport.items)))).scalars():
            month = jakarta_month(report.reported_at)
            if report.person_id is not None:
                reporters[(month, report.rw_id, report.person_id)] += 1
            if report.status == VERIFIED:
                for item in report.items:
                    grams[(month, report.rw_id, item.category_code)] += item.grams
                    items[(month, report.rw_id, item.category_code)] += 1
    return grams, items, reporters


async def assert_rollups_match(db: Database) -> None:
    grams, items, reporters = await counted_from_reports(db)
    async with db.transaction() as session:
        verified = (await session.execute(select(VerifiedMonthly))).scalars().all()
        reporting = (await session.execute(select(ReportersMonthly))).scalars().all()
        counts = (await session.execute(select(ReporterCountMonthly))).scalars().all()
        movers = (await session.execute(select(MoverMonthly))).scalars().all()
    assert {(v.month, v.rw_id, v.category_code): v.grams for v in verified} == dict(grams)
    assert {(v.month, v.rw_id, v.category_code): v.items for v in verified} == dict(items)
    assert {(r.month, r.rw_id, r.person_id): r.reports for r in reporting} == dict(reporters)
    assert {(c.month, c.rw_id): c.people for c in counts} == dict(Counter((m, rw) for m, rw, _p in reporters))
    rws_of = Counter((m, p) for m, _rw, p in reporters)
    assert {(m.month, m.person_id) for m in movers} == {key for key, rws in rws_of.items() if rws > 1}


async def assert_statistics_match(db: Database, scopes: list[list[int] | None]) -> None:
    """Every statistic equals the same figure counted straight from the reports, over ranges of whole
    months, parts of months and both."""
    ranges = [
        (datetime(2026, 10, 31, 17, 0, tzinfo=UTC), datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),  # November
        (datetime(2026, 9, 30, 17, 0, tzinfo=UTC), datetime(2026, 10, 31, 17, 0, tzinfo=UTC)),  # October
        (datetime(2026, 10, 31, 17, 0, tzinfo=UTC), datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),  # a few hours
        (datetime(2026, 10, 15, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),  # edges around a month
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),  # months and two edges
        (NOW, NOW),  # nothing
    ]
    async with db.transaction() as session:
        for rw_ids in scopes:
            for start, end in ranges:
                where = [WasteReport.reported_at >= start, WasteReport.reported_at < end]
                if rw_ids is not None:
                    where.append(WasteReport.rw_id.in_(rw_ids))
                by_category = dict((await session.execute(
                    select(WasteReportItem.category_code, func.sum(WasteReportItem.grams)).join(WasteReport)
                    .where(WasteReport.status == VERIFIED, *where).group_by(WasteReportItem.category_code)
                )).all())
                reporting = (await session.execute(
                    select(func.count(func.distinct(WasteReport.person_id))).where(*where)
                )).scalar_one()
                top = [tuple(row) for row in (await session.execute(
                    select(Kelurahan.name, RW.number, func.sum(WasteReportItem.grams)).select_from(WasteReport)
                    .join(WasteReportItem).join(RW, RW.id == WasteReport.rw_id)
                    .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
                    .where(WasteReport.status == VERIFIED, *where).group_by(Kelurahan.name, RW.number)
                    .order_by(func.sum(WasteReportItem.grams).desc(), Kelurahan.name, RW.number).limit(5)
                )).all()]
                assert await stats.verified_grams_by_category(session, rw_ids, start, end) == by_category
                assert await stats.residents_reporting(session, rw_ids, start, end) == reporting
                assert await stats.top_rws(session, rw_ids, start, end) == top


async def test_the_rollups_follow_every_write_and_the_statistics_equal_the_reports(db: Database) -> None:
    async with db.transaction() as session:
        rw_a = (await get_or_create_rw(session, KEBON_MELATI, 12)).id
        rw_b = (await get_or_create_rw(session, MENTENG, 2)).id
        bank = (await weighin.banks_serving(session, [rw_a]))[0].id
        siti, budi, ani = (await person(session, "Siti", rw_a), await person(session, "Budi", rw_a),
                           await person(session, "Ani", rw_b))

    async def report(who: int, rw_id: int, at: datetime, items: list[tuple[str, int]]) -> int:
        async with db.transaction() as session:
            made = await create_report(session, person_id=who, rw_id=rw_id, bank_id=bank, items=items, prices=PRICES,
                                       photo=None, now=at)
            return made.id

    late = await report(siti, rw_a, LATE_OCTOBER, [("plastik_pet", 1200), ("kaca", 800)])
    early = await report(siti, rw_a, EARLY_NOVEMBER, [("plastik_pet", 700)])
    rejected = await report(budi, rw_a, EARLY_NOVEMBER, [("kertas_kardus", 3000)])
    to_settle = await report(budi, rw_a, NOW - timedelta(days=2), [("kertas_kardus", 1000)])
    await report(ani, rw_b, NOW - timedelta(days=1), [("plastik_pet", 400), ("kertas_kardus", 600)])
    await assert_rollups_match(db)

    async with db.transaction() as session:  # approved with a corrected weight, and one rejected
        for report_id, corrected in ((late, 1500), (early, None)):
            found = await weighin.lock_pending(session, report_id)
            assert found is not None
            grams = {found.items[0].id: corrected} if corrected else {}
            await weighin.approve(session, found, grams=grams, prices=PRICES, by=siti, now=NOW)
        weighin.reject(await weighin.lock_pending(session, rejected), "Foto tidak jelas", by=siti, now=NOW)  # type: ignore[arg-type]
    await assert_rollups_match(db)

    async with db.transaction() as session:  # a weigh-in settling Budi's self-report
        account = await ensure_account(session, budi, bank)
        _weighed, entry = await weighin.record_weighin(
            session, account=account, rw_id=rw_a, items=[("kertas_kardus", 1100), ("plastik_pet", 300)],
            prices=PRICES, settle=[to_settle], by=siti, now=NOW)
    await assert_rollups_match(db)
    await assert_statistics_match(db, [None, [rw_a], [rw_b], [rw_a, rw_b]])

    async with db.transaction() as session:  # reversed: the self-report awaits weighing again
        await weighin.reverse(session, entry.id, NOW)
    await assert_rollups_match(db)

    async with db.transaction() as session:  # a verified item corrected, then moved to another RW and day
        item = select(WasteReportItem).where(WasteReportItem.report_id == early)
        corrected = (await session.execute(item)).scalar_one()
        corrected.grams, corrected.category_code = 650, "kertas_kardus"
        await session.flush()
        moved = await session.get(WasteReport, early)
        assert moved is not None
        moved.rw_id, moved.reported_at = rw_b, LATE_OCTOBER
        await session.execute(delete(WasteReportItem).where(WasteReportItem.report_id == late,
                                                            WasteReportItem.category_code == "kaca"))
    await assert_rollups_match(db)

    async with db.transaction() as session:  # Budi joins Siti; Ani is erased
        await join(session, siti, budi, NOW)
        await erase_person(session, ani)
    await assert_rollups_match(db)
    await assert_statistics_match(db, [None, [rw_a], [rw_b], [rw_a, rw_b]])

    async with db.transaction() as session:  # a report deleted with its items
        await session.execute(delete(WasteReport).where(WasteReport.id == rejected))
        await session.execute(delete(WasteReport).where(WasteReport.id == to_settle))
    await assert_rollups_match(db)
    await assert_statistics_match(db, [None, [rw_a]])


def test_a_range_splits_into_whole_jakarta_months_and_the_moments_around_them() -> None:
    november = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 1 November, midnight in Jakarta
    december = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert stats.split(november, december) == stats.Split(date(2026, 11, 1), date(2026, 12, 1), [])
    inside = stats.split(november + timedelta(hours=1), december - timedelta(hours=1))
    assert inside == stats.Split(edges=[(november + timedelta(hours=1), december - timedelta(hours=1))])
    around = stats.split(november - timedelta(hours=1), december + timedelta(hours=1))
    assert around == stats.Split(date(2026, 11, 1), date(2026, 12, 1), [(november - timedelta(hours=1), november),
                                                                        (december, december + timedelta(hours=1))])
    assert stats.split(december, november) == stats.Split()
