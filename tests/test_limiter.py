"""The send rate limiter: the pure decision, the in-memory limiter, and the database limiter shared by processes."""

from __future__ import annotations

import asyncio
import heapq
import itertools
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
    restamped,
    rules_from_settings,
    spread,
    take,
    take_ahead,
)
from bot.limiter.queue import Outcome
from bot.settings import Settings, load_settings
from storage.db import Database
from storage.models import LimiterState
from storage.outbox import Priority

HANG_GUARD = 30  # seconds: only stops a hung test, never a measure of speed


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
    rules = rules_from_settings(load_settings(_env_file=None, limiter_margin_seconds=0.01, twilio_mps=20))
    assert rules["telegram"] == Rules(global_per_second=30, chat_burst=3, chat_per_second=1.0, margin=0.01,
                                      spacing=1.01 / 60)
    assert rules["whatsapp"] == Rules(global_per_second=20, margin=0.01, spacing=1.01 / 40)
    assert rules["local"].unlimited
    assert spread(None, 0.02) == 0.0


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


def test_sends_are_recorded_in_order_and_spaced() -> None:
    """A send never goes before one recorded for a moment just ahead, nor within `spacing` of the last."""
    rule = Rules(global_per_second=30, chat_burst=3, chat_per_second=1.0, margin=0.02, spacing=0.017)
    state = take(State(), 10.0, rule).state
    spaced = take(state, 10.01, rule)
    assert not spaced.allowed and spaced.global_wait == pytest.approx(0.007) and spaced.chat_wait == 0
    assert take(state, 10.017, rule).allowed
    ahead = State(sent=(10.05,), chat_sent=(10.05,))
    refused = take(ahead, 10.0, Rules(global_per_second=30, chat_burst=3, chat_per_second=1.0))
    assert refused.global_wait == pytest.approx(0.05) and refused.chat_wait == pytest.approx(0.05)


def test_take_ahead_grants_the_moment_the_window_frees_when_it_is_near() -> None:
    rule = Rules(global_per_second=2, margin=0.02)
    full = State(sent=(0.0, 0.5))
    at, decision = take_ahead(full, 1.01, rule, reach=0.02)
    assert decision.allowed and at == pytest.approx(1.02) and decision.state.sent == (0.5, at)
    assert take(full, at, rule).allowed and not take(full, at - 1e-6, rule).allowed
    at, decision = take_ahead(full, 0.9, rule, reach=0.02)
    assert not decision.allowed and at == 0.9 and decision.global_wait == pytest.approx(0.12)
    at, decision = take_ahead(State(sent=(0.7,)), 0.9, rule, reach=0.02)
    assert decision.allowed and at == 0.9


def test_a_late_send_is_restamped_in_both_logs_in_order() -> None:
    """The entry of a send recorded for 10.0 that went at 10.08 moves, past a send recorded at 10.05 meanwhile;
    the chat's next-send bound follows the moved send (burst 1: one second after it)."""
    rule = Rules(global_per_second=3, chat_burst=1, chat_per_second=1.0)
    state = State(sent=(9.5, 10.0, 10.05), chat_sent=(10.0,), chat_next=11.0)
    moved = restamped(state, 10.0, 10.08, rule)
    assert moved == State(sent=(9.5, 10.05, 10.08), chat_sent=(10.08,), chat_next=pytest.approx(11.08))
    gone = restamped(State(sent=(10.1, 10.2, 10.3)), 9.0, 9.5, Rules(global_per_second=3))
    assert gone.sent == (10.1, 10.2, 10.3)  # pushed out of the window meanwhile: nothing to move


requests = st.lists(st.tuples(st.floats(0, 3), st.integers(0, 2)), max_size=40)
rules = {"limit": st.integers(1, 5), "burst": st.integers(1, 4), "rate": st.floats(0.5, 50),
         "margin": st.sampled_from([0.0, 0.005, 0.1])}


@settings(max_examples=300, deadline=None)
@given(
    **rules,
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


@settings(max_examples=300, deadline=None)
@given(
    **rules,
    spacing=st.sampled_from([0.0, 0.01, 0.1]),
    reach=st.sampled_from([0.0, 0.02, 0.3]),
    requests=requests,
)
def test_grants_made_ahead_keep_the_window_and_the_bucket(
    limit: int, burst: int, rate: float, margin: float, spacing: float, reach: float,
    requests: list[tuple[float, int]],
) -> None:
    """Requests asking with `take_ahead` and retrying after the wait: each grant lies within `reach` of its
    attempt, and the grants, in the order made, keep the rules (and the spacing)."""
    rule = Rules(limit, burst, rate, margin, spacing)
    pending = [(at, n, chat) for n, (at, chat) in enumerate(requests)]
    heapq.heapify(pending)
    sent: tuple[float, ...] = ()
    chats: dict[int, tuple[tuple[float, ...], float | None]] = {}
    grants: list[tuple[float, int]] = []
    while pending:
        now, n, chat = heapq.heappop(pending)
        at, decision = take_ahead(State(sent, *chats.get(chat, ((), None))), now, rule, reach)
        if decision.allowed:
            assert now <= at <= now + reach + 1e-9
            sent, chats[chat] = decision.state.sent, (decision.state.chat_sent, decision.state.chat_next)
            grants.append((at, chat))
            continue
        assert decision.wait > reach
        heapq.heappush(pending, (now + decision.wait, n, chat))
    times = [t for t, _ in grants]
    assert times == sorted(times)
    assert all(later - earlier >= spacing - 1e-9 for earlier, later in itertools.pairwise(times))
    for i in range(len(times) - limit):
        assert times[i + limit] >= times[i] + 1.0 + margin - 1e-9
    for chat in chats:
        mine = [t for t, c in grants if c == chat]
        assert bucket_accepts(mine, burst, rate)


# --- in memory (one process) -----------------------------------------------------------------------


class Watched(MemoryLimiter):
    """A memory limiter that records what each attempt decided (granted, or how long to wait) and for whom:
    what the limiter did, whatever the machine's load made the wall clock show."""

    def __init__(self, rules: dict[str, Rules]) -> None:
        super().__init__(rules)
        self.outcomes: list[Outcome] = []
        self.attempts: list[tuple[str, Outcome]] = []

    async def _attempt(  # type: ignore[no-untyped-def]
        self, rule, channel, address, priority, queued
    ) -> Outcome:
        outcome = await super()._attempt(rule, channel, address, priority, queued)
        self.outcomes.append(outcome)
        self.attempts.append((address, outcome))
        return outcome

    def of(self, address: str) -> list[Outcome]:
        return [outcome for who, outcome in self.attempts if who == address]


async def test_memory_chat_gets_a_burst_then_the_rate_without_holding_up_other_chats() -> None:
    rule = Rules(chat_burst=3, chat_per_second=20.0)
    limiter = Watched({"telegram": rule})
    grants = Grants()
    await asyncio.gather(
        *(grants.take(limiter, f"a{n}", "a") for n in range(6)),
        *(grants.take(limiter, f"b{n}", "b") for n in range(3)),
    )
    a = [t for t, name in grants.log if name.startswith("a")]
    assert [name for name in grants.names if name.startswith("a")] == [f"a{n}" for n in range(6)]
    # The burst and the other chat go at their first attempt; the rest of chat a is told to wait one
    # interval at most each time, never for the other chat.
    assert [outcome.granted for outcome in limiter.of("a")[:3]] == [True] * 3
    assert [outcome.granted for outcome in limiter.of("b")] == [True] * 3
    assert all(o.on_chat and o.wait <= 1 / 20 + rule.margin for o in limiter.of("a") if not o.granted)
    assert a[3] >= 0.055 and a[4] >= 0.105 and a[5] >= 0.155
    assert bucket_accepts(a, 3, 20.0)


async def test_memory_global_window_with_many_chats_is_fifo_and_full() -> None:
    rule = Rules(global_per_second=20, chat_burst=3, chat_per_second=1.0)
    limiter = Watched({"telegram": rule})
    grants = Grants()
    await asyncio.gather(*(grants.take(limiter, f"{n:02}", f"chat{n}") for n in range(40)))
    assert most_in_any_window(grants.times) == 20
    assert grants.names == [f"{n:02}" for n in range(40)]
    assert 1.005 <= grants.times[20]
    # Full: the first 20 go at their first attempt, and the next 20 wait, together, for the window to
    # free once (a wait per chat, or one more window, would add up to more).
    assert all(outcome.granted for outcome in limiter.outcomes[:20])
    assert sum(outcome.granted for outcome in limiter.outcomes) == 40
    assert sum(outcome.wait for outcome in limiter.outcomes if not outcome.granted) <= 1.0 + 2 * rule.margin


async def test_memory_spaced_grants_never_leave_together() -> None:
    """With a spacing, ten sends ready at once go one by one, not at the same instant (control: without)."""
    spaced = MemoryLimiter({"telegram": Rules(global_per_second=30, spacing=0.02)})
    bunched = MemoryLimiter({"telegram": Rules(global_per_second=30)})
    spaced_grants, bunched_grants = Grants(), Grants()
    await asyncio.gather(*(spaced_grants.take(spaced, f"{n}", f"chat{n}") for n in range(10)))
    await asyncio.gather(*(bunched_grants.take(bunched, f"{n}", f"chat{n}") for n in range(10)))
    assert min(b - a for a, b in itertools.pairwise(spaced_grants.times)) >= 0.02 - 0.001
    assert spaced_grants.times[-1] - spaced_grants.times[0] < 9 * 0.02 + 0.3
    assert bunched_grants.times[-1] - bunched_grants.times[0] < 0.05


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
    """The cancelled waiters took no token and left no turn behind: the next send waits one chat interval
    (a stale turn would block it for good, caught by the hang guard; tokens taken by the cancelled would
    make it wait five more intervals)."""
    rule = Rules(global_per_second=100, chat_burst=1, chat_per_second=20.0)
    limiter = Watched({"telegram": rule})
    started = time.monotonic()
    await limiter.acquire("telegram", "x", Priority.BULK)
    waiting = [asyncio.create_task(limiter.acquire("telegram", "x", Priority(n % 3))) for n in range(5)]
    await asyncio.sleep(0.01)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    limiter.outcomes.clear()
    await asyncio.wait_for(limiter.acquire("telegram", "x", Priority.BULK), HANG_GUARD)
    assert time.monotonic() - started >= 0.055  # it did wait for the chat's interval
    assert [outcome.granted for outcome in limiter.outcomes][-1]
    assert sum(outcome.granted for outcome in limiter.outcomes) == 1
    assert all(outcome.wait <= 1 / 20 + rule.margin for outcome in limiter.outcomes)  # one interval at most


async def test_channels_without_rules_are_never_limited() -> None:
    """Never limited: the limiter is not even consulted, so nothing can wait."""
    limiter = Watched({"telegram": Rules(global_per_second=1), "local": Rules()})
    for n in range(100):
        await limiter.acquire("local", "siti", Priority.BULK)
        await limiter.acquire("whatsapp", f"+62{n}", Priority.BULK)
    assert limiter.outcomes == []
    await limiter.acquire("telegram", "siti", Priority.BULK)
    assert limiter.outcomes == [Outcome(True)]  # control: a channel with rules is


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
    # Grants are checked against the moments first recorded; a re-stamp (tested on its own) would move a late
    # send's entry to the latest moment it may have gone.
    for limiter in limiters:
        limiter._went_late = lambda *late: None  # type: ignore[method-assign]
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
    print(f"\n{db.engine.dialect.name}: {rate:.2f}/s = {rate / 50:.1%} of the limit")  # asserted by bench/broadcast.py


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


class Stalled(DatabaseLimiter):
    """A database limiter whose next attempt stalls for `delay` seconds at one step, as under a loaded
    machine: after writing (a slow commit) or after reading the database's clock (a slow answer)."""

    def __init__(self, db: Database, rules: dict[str, Rules], step: str) -> None:
        super().__init__(db, rules)
        self.step, self.delay = step, 0.0
        self.late: list[tuple[float, float]] = []  # (recorded, went) of each send let go late

    async def _stall(self, step: str) -> None:
        if step == self.step:
            delay, self.delay = self.delay, 0.0
            await asyncio.sleep(delay)

    async def _store(self, session, states) -> None:  # type: ignore[no-untyped-def]
        await super()._store(session, states)
        await self._stall("commit")

    async def _now(self, session) -> float:  # type: ignore[no-untyped-def]
        clock = await super()._now(session)
        await self._stall("clock")
        return clock

    def _went_late(self, rule: Rules, channel: str, address: str, recorded: float, went: float) -> None:
        self.late.append((recorded, went))
        super()._went_late(rule, channel, address, recorded, went)


async def global_log(db: Database) -> list[float]:
    async with db.transaction() as session:
        row = await session.execute(select(LimiterState.state).where(LimiterState.key == "telegram:*"))
        return list(row.scalar_one()["sent"])


@pytest.mark.parametrize("step", ["commit", "clock"])
async def test_database_send_let_go_late_is_restamped_so_its_successor_keeps_the_window(
    db: Database, step: str
) -> None:
    """A grant stalled 80 ms after its moment was fixed goes late; the limiter moves its entry to when it
    went, so the next send, a window later, keeps the window from the real send (without the move it
    would go 1.02 - 0.08 s after it). A stall after reading the clock counts too, though the send then
    goes when its wait says."""
    rule = Rules(global_per_second=1, chat_burst=1, chat_per_second=1.0, margin=0.02)
    limiter = Stalled(db, {"telegram": rule}, step)
    limiter.delay = limiter_delay = 0.08
    await limiter.acquire("telegram", "a", Priority.BULK)
    await limiter.acquire("telegram", "b", Priority.BULK)
    sent = await global_log(db)
    async with db.transaction() as session:
        chat = (await session.execute(select(LimiterState.state).where(LimiterState.key == "telegram:a"))).scalar_one()
    assert len(sent) == 1  # the window of 1 holds only the second send now
    recorded, went = limiter.late[0]  # the stalled send (a loaded machine may let the next go late too)
    assert went - recorded >= limiter_delay - rule.margin  # moved by the stall, not left where it was fixed
    assert chat["sent"][-1] == pytest.approx(went, abs=1e-6)  # the chat's entry says when it really went
    assert sent[0] >= went + 1.0 + rule.margin - 1e-6  # the next send keeps the window from the real send
    assert chat["next"] == pytest.approx(chat["sent"][-1] + 1.0)


async def test_database_grants_the_moment_the_window_frees_without_losing_time(db: Database) -> None:
    """An acquirer refused for a full window asks again a little early and is granted for the exact
    moment the window frees, so N + 1 sends span exactly one window plus the margin."""
    rule = Rules(global_per_second=3, margin=0.02)
    limiter = DatabaseLimiter(db, {"telegram": rule}, reach=0.2)
    await asyncio.gather(*(limiter.acquire("telegram", f"c{n}", Priority.BULK) for n in range(3)))
    first = (await global_log(db))[0]
    await limiter.acquire("telegram", "c3", Priority.BULK)
    assert (await global_log(db))[-1] - first == pytest.approx(1.0 + rule.margin, abs=1e-6)


async def test_database_purged_row_is_not_recreated_by_a_restamp(db: Database) -> None:
    """Moving a late send's entry touches only rows that exist: a purge meanwhile is not undone."""
    rule = Rules(global_per_second=5, chat_burst=1, chat_per_second=1.0)
    limiter = DatabaseLimiter(db, {"telegram": rule})
    await limiter.acquire("telegram", "gone", Priority.BULK)
    recorded = (await global_log(db))[-1]
    async with db.transaction() as session:
        await session.execute(LimiterState.__table__.delete().where(LimiterState.key == "telegram:gone"))
    await limiter._restamp(rule, "telegram", "gone", recorded, recorded + 0.05)
    assert (await global_log(db))[-1] == pytest.approx(recorded + 0.05)
    async with db.transaction() as session:
        assert "telegram:gone" not in set((await session.execute(select(LimiterState.key))).scalars())
