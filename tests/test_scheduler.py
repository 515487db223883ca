"""The scheduler: one holder at a time, duties run each tick, retention purges."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import HEARTBEAT, Scheduler, retention_duties
from storage.db import Database
from storage.models import InboundRecord
from storage.people import identify
from storage.schedule import last_beat
from storage.types import utcnow
from tests.conftest import count


async def test_a_tick_purges_unconsented_people_and_old_inbound_records_and_beats(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        await identify(session, "local:gone", "local", "gone", "id", now - timedelta(hours=49))
        await identify(session, "local:here", "local", "here", "id", now)
        session.add(InboundRecord(channel="telegram", bot="1", platform_id="7", status="handled",
                                  received_at=now - timedelta(hours=49)))
        session.add(InboundRecord(channel="telegram", bot="1", platform_id="8", status="handled", received_at=now))
    scheduler = Scheduler(db, retention_duties(timedelta(hours=48)))
    await scheduler.tick(now)
    assert await count(db, "SELECT count(*) FROM person") == 1
    assert await count(db, "SELECT count(*) FROM inbound_record") == 1
    async with db.transaction() as session:
        assert await last_beat(session, HEARTBEAT) == now


async def test_a_failing_duty_does_not_stop_the_others(db: Database) -> None:
    ran: list[str] = []

    async def broken(session: AsyncSession, now: datetime) -> None:
        raise RuntimeError("bug")

    async def fine(session: AsyncSession, now: datetime) -> None:
        ran.append("fine")

    await Scheduler(db, [broken, fine]).tick()
    assert ran == ["fine"]


async def test_only_one_scheduler_runs_and_a_second_takes_over_when_it_stops(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite runs a single process")
    first_db, second_db = Database(database_url), Database(database_url)
    ticks: list[str] = []

    def duty(name: str):  # type: ignore[no-untyped-def]
        async def record(session: AsyncSession, now: datetime) -> None:
            ticks.append(name)

        return record

    first = Scheduler(first_db, [duty("first")], interval=0.1, lock_retry=0.05)
    second = Scheduler(second_db, [duty("second")], interval=0.1, lock_retry=0.05)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running = [asyncio.create_task(first.run(stop_first))]
    await asyncio.wait_for(first.holding.wait(), 30)
    running.append(asyncio.create_task(second.run(stop_second)))
    await asyncio.sleep(0.5)
    assert "first" in ticks and "second" not in ticks and not second.holding.is_set()
    stop_first.set()
    await asyncio.wait_for(second.holding.wait(), 30)
    await asyncio.sleep(0.3)
    assert "second" in ticks
    stop_second.set()
    await asyncio.gather(*running)
    await first_db.dispose()
    await second_db.dispose()
