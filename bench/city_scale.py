"""City scale (issue 7, item 3): on PostgreSQL filled with 1,000,000 residents in 2,700 RWs,
10,000,000 waste reports over two years and 50,000 pledges (bench/city_data.py), the time users wait
for the queries that read all of it: coordinator statistics per RW, kelurahan, kota and for an admin
(everything), broadcast recipient counts per segment, a resident's `Saldo`, pledge availability and
the catalog, each p50/p95 over 20 runs through the bot's own async functions; and enqueueing a
broadcast to everyone (one INSERT … SELECT, rolled back so the cached data stays clean)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import column, func, select, table

from bench import city_data as data
from bench import common
from storage import banks, broadcasts, catalog, ledger, pledges, reports, stats
from storage.clock import month_start, next_month_start, today
from storage.db import Database
from storage.models import RW, Account, Kecamatan, Kelurahan, Offer, UpgradeRW, WasteReport

NAME = "city_scale"
STATS_P95_MS = 300.0
ENQUEUE_S = 60.0
Query = Callable[[Any], Awaitable[Any]]  # session → result


@dataclass(frozen=True)
class Plan:
    size: data.Size
    runs: int  # timed runs per query (after one untimed warm-up)
    enqueue_runs: int


FULL = Plan(data.FULL, runs=20, enqueue_runs=3)
SMOKE = Plan(data.SMOKE, runs=3, enqueue_runs=1)


@dataclass(frozen=True)
class Scopes:
    """What the queries are asked about, drawn from the generated city."""

    rw: int  # one RW with a waste bank
    kelurahan_code: str
    kelurahan_rws: list[int]
    kota_code: str  # the kota with most RWs
    kota_rws: list[int]
    members: list[int]  # residents with an account (a sample)
    busiest: int  # the resident with most reports
    target_rws: list[int]
    offer_ids: list[int]


def run(smoke: bool) -> dict[str, Any]:
    if not common.postgres_available():
        print(f"{NAME}: skipped, PostgreSQL is not available at {common.POSTGRES}")
        return {}
    plan = SMOKE if smoke else FULL
    generation: dict[str, float] = {}
    if smoke:
        with common.scratch_postgres() as url:
            generation = data.generate(url, plan.size, say=lambda _line: None)
            figures = asyncio.run(measure(url, plan))
    else:
        with cached_city(generation) as url:
            figures = asyncio.run(measure(url, plan))
    figures["generation_s"] = {step: round(seconds, 1) for step, seconds in generation.items()}
    figures["sizes"] = plan.size.__dict__
    print(report(figures))
    common.record(NAME, figures, smoke)
    return figures


class cached_city:  # noqa: N801 (a context manager read as a phrase)
    """The full-size database, generated once per generator version and migrated to head every time
    (a new migration's backfill runs on it as on a production database)."""

    def __init__(self, generation: dict[str, float]) -> None:
        self.generation = generation
        self.scratch: Any = None

    def __enter__(self) -> str:
        for old in data.drop_older_versions():
            print(f"  dropped {old} (an earlier generator version)")
        name = data.database_name()
        self.scratch = common.scratch_postgres(name, keep=True)
        url = self.scratch.__enter__()
        if data.is_complete(url):
            began = time.monotonic()
            data.migrate(url)
            print(f"  reusing {name} (migrated to head in {time.monotonic() - began:.1f} s)")
            return url
        self.scratch.__exit__(None, None, None)
        data.drop_database(name)
        self.scratch = common.scratch_postgres(name, keep=True)
        url = self.scratch.__enter__()
        print(f"  generating {name} (once per generator version; several minutes)")
        began = time.monotonic()
        self.generation.update(data.generate(url, data.FULL))
        self.generation["total"] = time.monotonic() - began
        return url

    def __exit__(self, *exc: object) -> None:
        self.scratch.__exit__(*exc)


async def scopes(db: Database, sample: int) -> Scopes:
    async with db.transaction() as s:
        city = table(data.BENCH_RWS, column("idx"), column("rw_id"))
        first = (await s.execute(select(city.c.rw_id).where(city.c.idx == 1))).scalar_one()
        kelurahan_code = (await s.execute(select(RW.kelurahan_code).where(RW.id == first))).scalar_one()
        kelurahan_rws = list((await s.execute(select(RW.id).where(RW.kelurahan_code == kelurahan_code))).scalars())
        per_kota = (
            select(Kecamatan.kota_code, func.count(RW.id).label("n"))
            .join(Kelurahan, Kelurahan.kecamatan_code == Kecamatan.code).join(RW, RW.kelurahan_code == Kelurahan.code)
            .group_by(Kecamatan.kota_code).order_by(func.count(RW.id).desc()).limit(1)
        )
        kota_code = (await s.execute(per_kota)).first()[0]  # type: ignore[index]
        kota_rws = list((await s.execute(
            select(RW.id).join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .join(Kecamatan, Kecamatan.code == Kelurahan.kecamatan_code).where(Kecamatan.kota_code == kota_code)
        )).scalars())
        members = list((await s.execute(
            select(Account.person_id).order_by(func.hashint8(Account.id)).limit(sample)
        )).scalars())
        busiest = (await s.execute(
            select(WasteReport.person_id).where(WasteReport.reported_at >= data.ANCHOR - timedelta(days=30))
            .group_by(WasteReport.person_id).order_by(func.count().desc()).limit(1)
        )).scalar_one()
        target_rws = list((await s.execute(select(UpgradeRW.rw_id).order_by(UpgradeRW.rw_id))).scalars())
        offer_ids = list((await s.execute(select(Offer.id).order_by(Offer.id))).scalars())
    return Scopes(first, kelurahan_code, kelurahan_rws, kota_code, kota_rws, members, busiest, target_rws, offer_ids)


async def measure(url: str, plan: Plan) -> dict[str, Any]:
    db = Database(url)
    try:
        where = await scopes(db, plan.runs + 1)
        timings = await time_queries(db, where, plan.runs)
        enqueue = await time_enqueue(db, plan.enqueue_runs)
    finally:
        await db.dispose()
    return {"runs": plan.runs, "now": data.ANCHOR.isoformat(), "queries": timings, "enqueue_all": enqueue,
            "scopes": {"kelurahan_rws": len(where.kelurahan_rws), "kota": where.kota_code,
                       "kota_rws": len(where.kota_rws)}}


def stats_queries(name: str, rw_ids: list[int] | None, now: datetime) -> dict[str, Query]:
    """What the coordinator's statistics screen asks (handlers/coordinator/stats.py): the waste figures
    one by one and together as the screen does, and the pledge figures (upgrading coordinators)."""
    day = today(now)
    this_start, this_end = month_start(day), next_month_start(day)
    last_start = month_start((this_start - timedelta(days=1)).date())

    async def screen(s: Any) -> Any:
        return (await stats.verified_grams_by_category(s, rw_ids, this_start, this_end),
                await stats.verified_grams_by_category(s, rw_ids, last_start, this_start),
                await stats.residents_reporting(s, rw_ids, this_start, this_end),
                await stats.residents_registered(s, rw_ids),
                await stats.top_rws(s, rw_ids, this_start, this_end))

    return {
        f"stats.verified_grams_by_category this month [{name}]":
            lambda s: stats.verified_grams_by_category(s, rw_ids, this_start, this_end),
        f"stats.verified_grams_by_category last month [{name}]":
            lambda s: stats.verified_grams_by_category(s, rw_ids, last_start, this_start),
        f"stats.residents_reporting [{name}]": lambda s: stats.residents_reporting(s, rw_ids, this_start, this_end),
        f"stats.residents_registered [{name}]": lambda s: stats.residents_registered(s, rw_ids),
        f"stats.top_rws [{name}]": lambda s: stats.top_rws(s, rw_ids, this_start, this_end),
        f"statistics screen, all five [{name}]": screen,
        f"stats.pledge_figures [{name}]": lambda s: stats.pledge_figures(s, rw_ids, now),
    }


def broadcast_queries(name: str, segment: dict[str, Any], now: datetime) -> dict[str, Query]:
    """What the broadcast preview asks (handlers/coordinator/broadcast.py)."""
    return {
        f"broadcasts.count_recipients [{name}]": lambda s: broadcasts.count_recipients(s, segment),
        f"broadcasts.outside_window [{name}]": lambda s: broadcasts.outside_window(s, segment, now),
    }


def saldo_queries(people: Callable[[], int], now: datetime) -> dict[str, Query]:
    """What `Saldo` asks (handlers/savings.py), for a different member each run."""
    day = today(now)

    async def savings_screen(s: Any, person: int | None = None) -> Any:
        person = person or people()
        return (await banks.savings(s, person), await reports.pending(s, person),
                await reports.recent_reports(s, person),
                await reports.grams_between(s, person, month_start(day), next_month_start(day)),
                await reports.report_times(s, person, now - timedelta(weeks=60)))

    async def balance(s: Any) -> int:
        account = (await s.execute(select(Account.id).where(Account.person_id == people()))).scalar_one()
        return await ledger.balance(s, account)

    return {
        "banks.savings [member]": lambda s: banks.savings(s, people()),
        "ledger.balance [member]": balance,
        "reports.recent_reports [member]": lambda s: reports.recent_reports(s, people()),
        "Saldo screen, all five [member]": savings_screen,
    }


def pledge_queries(where: Scopes, target: Callable[[], int], now: datetime) -> dict[str, Query]:
    """What collaborators browsing and pledging ask (handlers/collaborator/*)."""
    return {
        "pledges.offer_states [target RW]": lambda s: pledges.offer_states(s, target(), now),
        "pledges.held_by_offer [every offer]": lambda s: pledges.held_by_offer(s, where.offer_ids, now),
        "catalog.kota_counts": catalog.kota_counts,
        f"catalog.summaries [kota {where.kota_code}]": lambda s: catalog.summaries(s, now, kota_code=where.kota_code),
        "catalog.summaries [kelurahan]": lambda s: catalog.summaries(s, now, kelurahan_codes=[where.kelurahan_code]),
        "catalog.detail [target RW]": lambda s: catalog.detail(s, target(), now),
    }


async def time_queries(db: Database, where: Scopes, runs: int) -> dict[str, dict[str, Any]]:
    now = data.ANCHOR
    chooser = random.Random(7)
    queries: dict[str, Query] = {}
    for name, rw_ids in (("rw", [where.rw]), ("kelurahan", where.kelurahan_rws), ("kota", where.kota_rws),
                         ("admin", None)):
        queries |= stats_queries(name, rw_ids, now)
    for name, segment in (("rws", broadcasts.segment_rws([where.rw])),
                          ("kelurahan", broadcasts.segment_place(broadcasts.KELURAHAN, where.kelurahan_code)),
                          ("kota", broadcasts.segment_place(broadcasts.KOTA, where.kota_code)),
                          ("all", broadcasts.segment_all())):
        queries |= broadcast_queries(name, segment, now)
    queries |= saldo_queries(lambda: chooser.choice(where.members), now)
    queries["Saldo screen, all five [busiest member]"] = lambda s: saldo_queries(lambda: where.busiest, now)[
        "Saldo screen, all five [member]"](s)
    queries |= pledge_queries(where, lambda: chooser.choice(where.target_rws), now)
    results = {}
    for name, query in queries.items():
        results[name] = await time_one(db, query, runs)
    return results


async def time_one(db: Database, query: Query, runs: int) -> dict[str, Any]:
    """p50/p95 in milliseconds of `runs` transactions each running the query (after one warm-up)."""
    times = []
    for attempt in range(runs + 1):
        began = time.perf_counter()
        async with db.transaction() as session:
            await query(session)
        if attempt:
            times.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": round(common.percentile(times, 50), 1), "p95_ms": round(common.percentile(times, 95), 1)}


async def time_enqueue(db: Database, runs: int) -> dict[str, Any]:
    """A broadcast to everyone enqueued (one outbox row per recipient), each run rolled back."""
    times, rows = [], 0
    for _ in range(runs):
        async with db.sessions() as session:
            await session.begin()
            broadcast = await broadcasts.create(session, None, broadcasts.segment_all(), "Uji siaran", data.ANCHOR)
            began = time.perf_counter()
            rows = await broadcasts.enqueue(session, broadcast, data.ANCHOR) or 0
            times.append(time.perf_counter() - began)
            await session.rollback()
    return {"p50_s": round(common.percentile(times, 50), 2), "max_s": round(max(times), 2), "runs": runs,
            "rows": rows}


def report(figures: dict[str, Any]) -> str:
    rows = []
    for name, timing in figures["queries"].items():
        target = STATS_P95_MS if name.startswith("stats.") else None
        verdict = "" if target is None else ("ok" if timing["p95_ms"] < target else "MISSED")
        rows.append((name, timing["p50_ms"], timing["p95_ms"], f"< {target:.0f}" if target else "", verdict))
    enqueue = figures["enqueue_all"]
    rows.append((f"broadcasts.enqueue [all, {enqueue['rows']:,} rows] (s)", enqueue["p50_s"], enqueue["max_s"],
                 f"< {ENQUEUE_S:.0f} s", "ok" if enqueue["max_s"] < ENQUEUE_S else "MISSED"))
    return common.table(f"City scale ({figures['runs']} runs each, ms)", ["query", "p50", "p95", "target", ""], rows)
