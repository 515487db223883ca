"""The scheduler: exactly one holder (a PostgreSQL advisory lock) ticks every minute and runs the
duties that are due. Every duty computes what is due from the tables, so restarts lose nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from handlers.dialog.machine import Duty
from storage.db import Database
from storage.inbound import purge_inbound
from storage.retention import purge_limiter_state, purge_unconsented
from storage.schedule import beat
from storage.types import utcnow

log = logging.getLogger(__name__)

LOCK_KEY = 0x4B534242  # "KSBB"
HEARTBEAT = "scheduler"



def retention_duties(retention: timedelta) -> list[Duty]:
    """The purges DESIGN.md requires: unconsented people and inbound records after 48 hours."""

    async def unconsented(session: AsyncSession, now: datetime) -> int:
        removed = await purge_unconsented(session, now - retention, now)
        if removed:
            log.info("retention: %d people who never consented removed", removed)
        return removed

    async def inbound(session: AsyncSession, now: datetime) -> int:
        return await purge_inbound(session, now - retention)

    async def limiter(session: AsyncSession, now: datetime) -> int:
        return await purge_limiter_state(session, now - timedelta(hours=1))

    return [unconsented, inbound, limiter]


class Scheduler:
    """Waits for the scheduler lock, then runs a minute tick with APScheduler until stopped."""

    def __init__(
        self, db: Database, duties: Sequence[Duty], *, interval: float = 60.0, lock_retry: float = 10.0
    ) -> None:
        self.db = db
        self.duties = list(duties)
        self.interval = interval
        self.lock_retry = lock_retry
        self.holding = asyncio.Event()
        self._ticking = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        async with self._lock(stop) as held:
            if not held:
                return
            self.holding.set()
            scheduler = AsyncIOScheduler(timezone=UTC)
            scheduler.add_job(
                self.tick, "interval", seconds=self.interval, next_run_time=datetime.now(UTC),
                max_instances=1, coalesce=True, misfire_grace_time=max(1, int(self.interval)),
            )
            scheduler.start()
            try:
                await stop.wait()
            finally:
                async with self._ticking:  # let a tick in flight commit; shutting down cancels jobs
                    scheduler.shutdown(wait=False)
                self.holding.clear()

    async def tick(self, now: datetime | None = None) -> None:
        """Run every duty in its own transaction; one failing duty never stops the others."""
        async with self._ticking:
            await self._run_duties(now or utcnow())
            metrics.SCHEDULER_LAST_TICK.set_to_current_time()

    async def _run_duties(self, now: datetime) -> None:
        for duty in [*self.duties, _heartbeat]:
            try:
                async with self.db.transaction() as session:
                    await duty(session, now)
            except Exception:
                log.exception("scheduled duty %s failed", getattr(duty, "__name__", duty))

    @contextlib.asynccontextmanager
    async def _lock(self, stop: asyncio.Event) -> AsyncIterator[bool]:
        """Hold the advisory lock on PostgreSQL (waiting for it); SQLite runs a single process."""
        if self.db.is_sqlite:
            yield True
            return
        async with self.db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            statement = text("SELECT pg_try_advisory_lock(:key)")
            while not (await connection.execute(statement, {"key": LOCK_KEY})).scalar():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.lock_retry)
                if stop.is_set():
                    yield False
                    return
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})


async def _heartbeat(session: AsyncSession, now: datetime) -> None:
    await beat(session, HEARTBEAT, now)
