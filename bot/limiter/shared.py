"""The limiter shared by many processes (PostgreSQL): its state in the `limiter_state` table.

Priority across processes. While a process has a REPLY or NOTIFY acquirer waiting for a channel's
global capacity, it keeps "priority p waits here until T" in that channel's global row (`waiting`,
keyed by the limiter's id), T being its next attempt plus `HOLD_GRACE`. It renews the entry at
every attempt and drops it in the transaction that grants its last such acquirer. Acquirers of a
lower priority in other processes are refused, and retry after the window's wait or `HOLD_POLL`,
while such an entry lies in the future. An entry left by a crashed process just expires, so a
crash holds lower priorities back by at most `HOLD_GRACE`.

Time. `DatabaseLimiter` reads PostgreSQL's `clock_timestamp()` after locking its rows, so all
processes on all machines judge the window by one clock, free of NTP skew between workers (SQLite:
`time.time()`, one machine). It decides for the moment `LEAD` seconds ahead and returns at that
moment, so the varying time to write and commit never makes a send earlier than recorded. When the
rules free within `REACH` of that moment it grants the exact moment they free (`take_ahead`), and a
refused acquirer asks again `REACH` / 2 before they free, so a freed slot of the window is not lost
to a sleep and a second transaction. Each attempt is one short transaction (synchronous_commit off:
the state is disposable) that inserts the missing rows of the global key `<channel>:*` and the chat
key `<channel>:<address>`, locks them with SELECT … FOR UPDATE in key order, decides, writes and
commits; a refused acquirer sleeps outside the transaction. A grant let go more than `margin` after
its recorded moment all the same (a slow commit, a busy event loop; rare) has its entry moved to
when it really went, in the channel's log and its chat's, by a second short transaction in the
background (`restamped`), so that its successors a second later keep the window from the real send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.limiter.queue import Outcome, QueuedLimiter, refusal
from bot.limiter.rules import Rules, State, restamped, take_ahead
from storage.db import Database
from storage.models import LimiterState
from storage.outbox import Priority
from storage.types import utcnow

log = logging.getLogger(__name__)

HOLD_GRACE = 0.5
HOLD_POLL = 0.02
LEAD = 0.01
REACH = 0.02


class DatabaseLimiter(QueuedLimiter):
    """The limiter shared by many processes (PostgreSQL): state in the `limiter_state` table."""

    def __init__(self, db: Database, rules: Mapping[str, Rules], lead: float = LEAD, reach: float = REACH) -> None:
        super().__init__(rules)
        self.db = db
        self.lead = lead
        self.reach = reach
        self.id = uuid.uuid4().hex[:16]
        self._restamps: set[asyncio.Task[None]] = set()

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> Outcome:
        shared_key, chat_key = _keys(rule, channel, address)
        async with self._transaction() as session:
            states = await self._lock(session, (shared_key, chat_key))
            before = time.monotonic()
            clock = await self._now(session)
            after, now = time.monotonic(), clock + self.lead
            shared, chat = states.get(shared_key or "", {}), states.get(chat_key or "", {})
            state = _stored(shared, chat)
            at, decision = take_ahead(state, now, rule, self.reach)
            holds = {key: hold for key, hold in shared.get("waiting", {}).items() if key != self.id and hold[1] > now}
            writes: dict[str, dict[str, Any]] = {}
            if decision.allowed and not any(held < priority for held, _ in holds.values()):
                outcome, hold = Outcome(True, recorded=at), queued
                if chat_key is not None:
                    writes[chat_key] = {"sent": list(decision.state.chat_sent), "next": decision.state.chat_next}
                shared = {**shared, "sent": list(decision.state.sent)}
            else:
                outcome = self._early(refusal(decision))
                if not outcome.on_chat:
                    outcome = Outcome(False, outcome.wait or HOLD_POLL)
                    hold = priority if queued is None else min(priority, queued)
                else:
                    hold = queued
            if hold is not None and hold < max(Priority):
                holds[self.id] = [hold, now + (0.0 if outcome.on_chat else outcome.wait) + HOLD_GRACE]
            if shared_key is not None and (outcome.granted or holds != shared.get("waiting", {})):
                writes[shared_key] = {**shared, "waiting": holds}
            await self._store(session, writes)
        if outcome.granted:  # the clock was read between `before` and `after`: go no earlier than recorded
            return outcome._replace(wait=after + (at - clock) - time.monotonic(), unsure=after - before)
        return outcome

    def _early(self, refusal: Outcome) -> Outcome:
        """A refusal that has its acquirer ask again a little before the rules free, so that the next
        attempt, even a few milliseconds late, is granted for the exact moment (`take_ahead`)."""
        return refusal._replace(wait=refusal.wait - self.reach / 2) if refusal.wait > self.reach else refusal

    def _went_late(self, rule: Rules, channel: str, address: str, recorded: float, went: float) -> None:
        """Move the send's entry in a second, short transaction, in the background: the send goes now."""
        task = asyncio.create_task(self._restamp(rule, channel, address, recorded, went))
        self._restamps.add(task)
        task.add_done_callback(self._restamps.discard)

    async def _restamp(self, rule: Rules, channel: str, address: str, recorded: float, went: float) -> None:
        """Record that the send recorded for `recorded` went at `went` (the database's clock), in the
        channel's global log and in its chat's entry."""
        shared_key, chat_key = _keys(rule, channel, address)
        try:
            async with self._transaction() as session:
                states = await self._lock(session, (shared_key, chat_key), insert=False)
                shared, chat = states.get(shared_key or "", {}), states.get(chat_key or "", {})
                moved = restamped(_stored(shared, chat), recorded, went, rule)
                writes: dict[str, dict[str, Any]] = {}
                if shared_key in states:
                    writes[shared_key] = {**shared, "sent": list(moved.sent)}
                if chat_key in states:
                    writes[chat_key] = {**chat, "sent": list(moved.chat_sent), "next": moved.chat_next}
                await self._store(session, writes)
        except Exception:  # the send went anyway; only its successors' margin is at stake
            log.warning("limiter: moving a late send's entry failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction on the limiter's state, which is disposable: its commit does not wait for the disk."""
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                await session.execute(text("SET LOCAL synchronous_commit = off"))
            yield session

    def _insert(self) -> Any:
        return (sqlite if self.db.is_sqlite else postgresql).insert(LimiterState)

    async def _lock(
        self, session: AsyncSession, wanted: Iterable[str | None], insert: bool = True
    ) -> dict[str, dict[str, Any]]:
        """Insert the missing rows of the keys given (None: no such row) unless told not to, then lock
        all of them in key order."""
        keys = sorted(key for key in wanted if key is not None)
        if insert:
            stamp = utcnow()
            rows = [{"key": key, "state": {}, "updated_at": stamp} for key in keys]
            await session.execute(self._insert().values(rows).on_conflict_do_nothing())
        statement = (
            select(LimiterState.key, LimiterState.state)
            .where(LimiterState.key.in_(keys))
            .order_by(LimiterState.key)
            .with_for_update()
        )
        return {key: state for key, state in (await session.execute(statement)).all()}

    async def _store(self, session: AsyncSession, states: dict[str, dict[str, Any]]) -> None:
        """Write states back, as an upsert in case a purge removed a row meanwhile."""
        if not states:
            return
        stamp = utcnow()
        rows = [{"key": key, "state": state, "updated_at": stamp} for key, state in states.items()]
        insert = self._insert().values(rows)
        excluded = insert.excluded
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["key"], set_={"state": excluded.state, "updated_at": excluded.updated_at}
            )
        )

    async def _now(self, session: AsyncSession) -> float:
        """Seconds since the epoch on the database's clock (SQLite: this machine's)."""
        if self.db.is_sqlite:
            return time.time()
        return float((await session.execute(text("SELECT extract(epoch FROM clock_timestamp())"))).scalar_one())


def _keys(rule: Rules, channel: str, address: str) -> tuple[str | None, str | None]:
    """The rows a send's rules live in: the channel's global key and the chat's key (None: no such rule)."""
    shared_key = f"{channel}:*" if rule.global_per_second is not None else None
    chat_key = f"{channel}:{address}" if rule.chat_per_second is not None else None
    return shared_key, chat_key


def _stored(shared: Mapping[str, Any], chat: Mapping[str, Any]) -> State:
    """The state `take` needs, from the global row's and the chat row's stored states."""
    return State(tuple(shared.get("sent", ())), tuple(chat.get("sent", ())), chat.get("next"))
