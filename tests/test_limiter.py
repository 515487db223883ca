"""The send rate limiter: the pure decision, the in-memory limiter, and the database limiter shared by processes."""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.limiter import (
    DatabaseLimiter,
    Limiter,
    MemoryLimiter,
    Rules,
    State,
    make_limiter,
    rules_from_settings,
    take,
)
from bot.settings import Settings, load_settings
from storage.db import Database
from storage.models import LimiterState
from storage.outbox import Priority


def most_in_any_window(times: Sequence[float], seconds: float = 1.0) -> int:
    """The most sends in any window (t - seconds, t], as the platform counts them."""
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def bucket_accepts(times: Sequence[float], burst: int, rate: float) -> bool:
    """Whether the platform's token bucket (full at first) admits sends at these times."""
    tokens, last = float(burst), None
    for t in sorted(times):
        tokens = tokens if last is None else min(burst, tokens + (t - last) * rate)
        if tokens < 1 - 1e-9:
            return False
        tokens, last = tokens - 1, t
    return True


class Grants:
    """Acquires tokens from limiters and records who got one, and when."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.log: list[tuple[float, str]] = []
        self.returned: dict[str, float] = {}

    async def take(self, limiter: Limiter, name: str, address: str, priority: Priority = Priority.BULK) -> None:
        await limiter.acquire("telegram", address, priority)
        self.log.append((time.monotonic() - self.start, name))
        self.returned[name] = time.time()

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.log]

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.log]


# --- the pure decision -----------------------------------------------------------------------------


def test_rules_come_from_the_settings() -> None:
    rules = rules_from_settings(load_settings(_env_file=None, limiter_margin_seconds=0.01))
    assert rules["telegram"] == Rules(global_per_second=30, chat_burst=3, chat_per_second=1.0, margin=0.01)
    assert rules["local"].unlimited


def test_window_allows_n_sends_per_sliding_second_plus_margin() -> None:
    rule = Rules(global_per_second=3, margin=0.005)
    state = State()
    for now in (0.0, 0.1, 0.2):
        decision = take(state, now, rule)
        assert decision.allowed
        state = decision.state
    refused = take(state, 0.3, rule)
    assert not refused.allowed and refused.global_wait == pytest.approx(0.705)
    assert not take(state, 1.004, rule).allowed
    granted = take(state, 1.005, rule)
    assert granted.allowed and granted.state.sent == (0.1, 0.2, 1.005)


def test_chat_bucket_gives_a_burst_then_the_rate() -> None:
    rule = Rules(chat_burst=3, chat_per_second=1.0, margin=0.005)
    state = State()
    for _ in range(3):
        decision = take(state, 0.0, rule)
        assert decision.allowed
        state = decision.state
    fourth = take(state, 0.0, rule)
    assert not fourth.allowed and fourth.chat_wait == pytest.approx(1.005) and fourth.global_wait == 0
    state = take(state, 1.005, rule).state
    assert take(state, 1.005, rule).chat_wait == pytest.approx(1.0)
    idle = take(state, 100.0, rule)
    assert idle.allowed and take(idle.state, 100.0, rule).allowed


def test_no_rules_means_no_limit() -> None:
    state, rule = State(), Rules()
    for _ in range(1000):
        decision = take(state, 0.0, rule)
        assert decision.allowed
        state = decision.state
    assert state == State()


def test_a_clock_stepping_back_does_not_freeze_sending() -> None:
    rule = Rules(global_per_second=2, chat_burst=1, chat_per_second=1.0)
    future = State(sent=(5000.0, 5000.0), chat_sent=(5000.0,), chat_next=5001.0)
    assert take(future, 10.0, rule).allowed


requests = st.lists(st.tuples(st.floats(0, 3), st.integers(0, 2)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 5),
    burst=st.integers(1, 4),
    rate=st.floats(0.5, 50),
    margin=st.sampled_from([0.0, 0.005, 0.1]),
    requests=requests,
)
def test_grants_never_exceed_the_window_or_the_bucket(
    limit: int, burst: int, rate: float, margin: float, requests: list[tuple[float, int]]
) -> None:
    """Requests that retry after the wait they are told: every one is served, within the rules."""
    rule = Rules(limit, burst, rate, margin)
    pending = [(at, n, chat) for n, (at, chat) in enumerate(requests)]
    heapq.heapify(pending)
    sent: tuple[float, ...] = ()
    chats: dict[int, tuple[tuple[float, ...], float | None]] = {}
    grants: list[tuple[float, int]] = []
    for _ in range(10_000):
        if not pending:
            break
        now, n, chat = heapq.heappop(pending)
        state = State(sent, *chats.get(chat, ((), None)))
        decision = take(state, now, rule)
        if decision.allowed:
            sent, chats[chat] = decision.state.sent, (decision.state.chat_sent, decision.state.chat_next)
            grants.append((now, chat))
            continue
        assert decision.wait > 0
        assert take(state, now + decision.wait + 1e-9, rule).allowed
        if decision.wait > 1e-6:
            assert not take(state, now + decision.wait - 1e-6, rule).allowed
        heapq.heappush(pending, (max(now + decision.wait, math.nextafter(now, math.inf)), n, chat))
    assert len(grants) == len(requests)
    times = [t for t, _ in grants]
    for i in range(len(times) - limit):
        assert times[i + limit] >= times[i] + 1.0 + margin
    for chat in chats:
        mine = [t for t, c in grants if c == chat]
        for i in range(len(mine)):
            for j in range(i + burst, len(mine)):
                assert mine[j] - mine[i] >= (j - i + 1 - burst) / rate + margin - 1e-9
        assert bucket_accepts(mine, burst, rate)


# --- in memory (one process) -----------------------------------------------------------------------


async def test_memory_chat_gets_a_burst_then_the_rate_without_holding_up_other_chats() -> None:
    limiter = MemoryLimiter({"telegram": Rules(chat_burst=3, chat_per_second=20.0)})
    grants = Grants()
    await asyncio.gather(
        *(grants.take(limiter, f"a{n}", "a") for n in range(6)),
        *(grants.take(limiter, f"b{n}", "b") for n in range(3)),
    )
    a = [t for t, name in grants.log if name.startswith("a")]
    b = [t for t, name in grants.log if name.startswith("b")]
    assert [name for name in grants.names if name.startswith("a")] == [f"a{n}" for n in range(6)]
    assert max(a[:3] + b) < 0.05
    assert a[3] >= 0.055 and a[4] >= 0.105 and a[5] >= 0.155
    assert a[5] < 0.155 + 0.1
    assert bucket_accepts(a, 3, 20.0)


async def test_memory_global_window_with_many_chats_is_fifo_and_full() -> None:
    limiter = MemoryLimiter({"telegram": Rules(global_per_second=20, chat_burst=3, chat_per_second=1.0)})
    grants = Grants()
    await asyncio.gather(*(grants.take(limiter, f"{n:02}", f"chat{n}") for n in range(40)))
    assert most_in_any_window(grants.times) == 20
    assert grants.names == [f"{n:02}" for n in range(40)]
    assert grants.times[19] < 0.1 and 1.005 <= grants.times[20] and grants.times[39] < 1.005 + 0.1


async def late_arrivals(priority: Priority) -> list[str]:
    """Seven bulk sends fill the window of 5 per second; three more arrive while two bulk wait."""
    limiter = MemoryLimiter({"telegram": Rules(global_per_second=5)})
    grants = Grants()
    bulk = [asyncio.create_task(grants.take(limiter, f"bulk{n}", f"b{n}")) for n in range(7)]
    await asyncio.sleep(0.2)
    late = [asyncio.create_task(grants.take(limiter, f"late{n}", f"r{n}", priority)) for n in range(3)]
    await asyncio.gather(*bulk, *late)
    return grants.names


async def test_memory_replies_overtake_waiting_bulk() -> None:
    """Control: the same late arrivals at bulk priority wait their turn behind earlier bulk."""
    replies, control = await asyncio.gather(late_arrivals(Priority.REPLY), late_arrivals(Priority.BULK))
    first = [f"bulk{n}" for n in range(5)]
    assert replies == [*first, "late0", "late1", "late2", "bulk5", "bulk6"]
    assert control == [*first, "bulk5", "bulk6", "late0", "late1", "late2"]


async def test_memory_cancelled_waiters_leave_no_trace() -> None:
    limiter = MemoryLimiter({"telegram": Rules(global_per_second=100, chat_burst=1, chat_per_second=20.0)})
    started = time.monotonic()
    await limiter.acquire("telegram", "x", Priority.BULK)
    waiting = [asyncio.create_task(limiter.acquire("telegram", "x", Priority(n % 3))) for n in range(5)]
    await asyncio.sleep(0.01)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await limiter.acquire("telegram", "x", Priority.BULK)
    assert 0.055 <= time.monotonic() - started < 0.15


async def test_channels_without_rules_are_never_limited() -> None:
    limiter = MemoryLimiter({"telegram": Rules(global_per_second=1), "local": Rules()})
    started = time.monotonic()
    for n in range(100):
        await limiter.acquire("local", "siti", Priority.BULK)
        await limiter.acquire("whatsapp", f"+62{n}", Priority.BULK)
    assert time.monotonic() - started < 0.1


async def test_make_limiter_picks_the_store_for_the_database(db: Database, settings: Settings) -> None:
    limiter = make_limiter(db, settings)
    assert isinstance(limiter, MemoryLimiter if db.is_sqlite else DatabaseLimiter)
    assert limiter.rules["telegram"].global_per_second == settings.telegram_global_per_second


# --- in the database (many processes) ---------------------------------------------------------------
# Two engines stand for two processes. They share this event loop, whose wake-ups jitter under load,
# so the rules are checked on the grant times the limiter stored (one chat row per send), and the
# times at which acquire returned only have to be no earlier than those.


async def second_process(db: Database, database_url: str) -> Database:
    """Another engine on the same database; both connect before they start competing."""
    other = Database(database_url)
    for database in (db, other):
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))
    return other


async def granted(db: Database) -> dict[str, float]:
    """Each chat's last grant time, as the limiter stored it (its clock, seconds since the epoch)."""
    async with db.transaction() as session:
        chats = select(LimiterState.key, LimiterState.state).where(~LimiterState.key.endswith(":*"))
        rows = await session.execute(chats)
        return {key.split(":", 1)[1]: state["sent"][-1] for key, state in rows}


async def test_database_limiters_share_one_window_at_full_rate(db: Database, database_url: str) -> None:
    """Together two processes keep 50 per sliding second (plus the margin), and reach that rate."""
    other = await second_process(db, database_url)
    rules = {"telegram": Rules(global_per_second=50, chat_burst=3, chat_per_second=1.0)}
    limiters = [DatabaseLimiter(db, rules), DatabaseLimiter(other, rules)]
    grants = Grants()
    try:
        await asyncio.gather(*(grants.take(limiters[n % 2], f"c{n}", f"c{n}") for n in range(101)))
    finally:
        await other.dispose()
    stored = await granted(db)
    times = sorted(stored.values())
    assert len(times) == 101
    assert min(times[n + 50] - times[n] for n in range(51)) >= 1.0 + rules["telegram"].margin - 1e-6
    assert all(grants.returned[name] >= at - 0.001 for name, at in stored.items())
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\n{db.engine.dialect.name}: {rate:.2f}/s = {rate / 50:.1%} of the limit")
    assert rate >= 0.9 * 50


async def test_database_chat_bucket_holds_across_processes(db: Database, database_url: str) -> None:
    other = await second_process(db, database_url)
    rules = {"telegram": Rules(global_per_second=100, chat_burst=3, chat_per_second=20.0)}
    limiters = [DatabaseLimiter(db, rules), DatabaseLimiter(other, rules)]
    grants = Grants()
    try:
        await asyncio.gather(*(grants.take(limiters[n % 2], f"{n}", "same") for n in range(6)))
    finally:
        await other.dispose()
    times = sorted(grants.times)
    assert times[3] >= 0.055 and times[5] >= 0.155
    assert times[5] < 1.0


async def test_database_replies_go_before_bulk_across_processes(db: Database, database_url: str) -> None:
    other = await second_process(db, database_url)
    rules = {"telegram": Rules(global_per_second=5, chat_burst=3, chat_per_second=1.0)}
    first, second = DatabaseLimiter(db, rules), DatabaseLimiter(other, rules)
    grants = Grants()
    try:
        bulk = [asyncio.create_task(grants.take((first, second)[n % 2], f"bulk{n}", f"bulk{n}")) for n in range(7)]
        await asyncio.sleep(0.3)
        replies = [
            asyncio.create_task(grants.take(limiter, f"reply{n}", f"reply{n}", Priority.REPLY))
            for n, limiter in enumerate((second, second, first))
        ]
        await asyncio.gather(*bulk, *replies)
    finally:
        await other.dispose()
    stored = await granted(db)
    order = sorted(stored, key=stored.__getitem__)
    assert all(name.startswith("bulk") for name in order[:5] + order[8:])
    assert sorted(order[5:8]) == ["reply0", "reply1", "reply2"]
