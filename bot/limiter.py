"""The shared send rate limiter: every send, from any process, first takes a token here.

Rules, per channel: at most `global_per_second` sends in any sliding one-second window (a log of
the last N grant times, as the platform counts them), and per chat a token bucket of `chat_burst`
refilled at `chat_per_second`. Each rule keeps `margin` seconds of slack (N+1 sends are at least
1 s + margin apart; any k > burst sends to one chat span at least (k - burst) / rate + margin), so
jitter between our clock and the platform's never turns into a 429. Sends are recorded in order,
and a channel's sends at least `spacing` apart (from the settings: half the interval of sends evenly
spread at the limit): sends let go at the same instant queue for connections and the CPU, reach the
platform late and bunched, and make the next second's sends, let go on time, seem too many. The
decision is the pure function `take`; `MemoryLimiter` keeps the state in memory (one process,
SQLite), `DatabaseLimiter` in the `limiter_state` table (any number of processes, PostgreSQL).

Order within a process. A channel's acquirers queue by (priority, arrival); only the first ready
one contends for capacity, sleeping until the window frees and stepping aside when a ticket ahead
of it becomes ready. An acquirer refused by its chat's bucket waits in the queue without holding
up other chats, and one chat's acquirers go in queue order. So a process is FIFO within a
priority, replies overtake waiting bulk, and one transaction per process contends for a channel.

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
Since grants are recorded ahead of the clock, `take` keeps entries up to a window ahead; further
ahead they come from a clock that has since stepped back, and are dropped.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import LimiterState
from storage.outbox import Priority
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "Decision",
    "DatabaseLimiter",
    "Limiter",
    "MemoryLimiter",
    "Priority",
    "Rules",
    "State",
    "make_limiter",
    "restamped",
    "rules_from_settings",
    "spread",
    "take",
    "take_ahead",
]

log = logging.getLogger(__name__)

WINDOW = 1.0
SAFETY_MARGIN = 0.005
HOLD_GRACE = 0.5
HOLD_POLL = 0.02
LEAD = 0.01
REACH = 0.02
PRUNE_EVERY = 1024

Ticket = tuple[int, int]


@dataclass(frozen=True)
class Rules:
    """One channel's send limits; None is unlimited, and a chat limit needs `chat_per_second`.
    `spacing`: the least time between two of the channel's sends (0: any number at the same instant)."""

    global_per_second: int | None = None
    chat_burst: int | None = None
    chat_per_second: float | None = None
    margin: float = SAFETY_MARGIN
    spacing: float = 0.0

    @property
    def unlimited(self) -> bool:
        return self.global_per_second is None and self.chat_per_second is None

    @property
    def burst(self) -> int:
        return self.chat_burst or 1


def rules_from_settings(settings: Settings) -> dict[str, Rules]:
    """Every channel's rules, from the settings."""
    margin = settings.limiter_margin_seconds
    telegram = Rules(
        settings.telegram_global_per_second,
        settings.telegram_chat_burst,
        settings.telegram_chat_per_second,
        margin,
        spread(settings.telegram_global_per_second, margin),
    )
    whatsapp = Rules(global_per_second=settings.twilio_mps, margin=margin, spacing=spread(settings.twilio_mps, margin))
    return {"telegram": telegram, "whatsapp": whatsapp, "local": Rules()}


def spread(per_second: int | None, margin: float) -> float:
    """The spacing that keeps a channel's sends from leaving in bursts: half the interval of sends evenly
    spread at the limit. Sends let go at the same instant queue for connections and the CPU and reach
    the platform late, so the next second's sends, let go on time, can seem too many to the platform."""
    return (WINDOW + margin) / (2 * per_second) if per_second else 0.0


@dataclass(frozen=True)
class State:
    """What `take` needs: the channel's last grants, one chat's last grants and its next-send bound."""

    sent: tuple[float, ...] = ()
    chat_sent: tuple[float, ...] = ()
    chat_next: float | None = None


class Decision(NamedTuple):
    """How long each rule wants a send to wait (0: it may go now) and the state after the send."""

    chat_wait: float
    global_wait: float
    state: State

    @property
    def allowed(self) -> bool:
        return self.chat_wait <= 0 and self.global_wait <= 0

    @property
    def wait(self) -> float:
        return max(self.chat_wait, self.global_wait)


def take(state: State, now: float, rule: Rules) -> Decision:
    """Whether a send at `now` is allowed; if so the state that records it, else how long to wait.

    Sends are recorded in order: none goes before one already recorded (a grant made for a moment just
    ahead), and on the channel none within `spacing` of the one before.
    """
    state = _settled(state, now)
    limit = rule.global_per_second
    global_wait = 0.0
    if limit is not None and state.sent:
        global_wait = max(0.0, state.sent[-1] + rule.spacing - now)
        if len(state.sent) >= limit:
            global_wait = max(global_wait, state.sent[-limit] + WINDOW + rule.margin - now)
    chat_wait = 0.0
    if rule.chat_per_second is not None and state.chat_sent:
        chat_wait = max(0.0, state.chat_sent[-1] - now)
    if rule.chat_per_second is not None and state.chat_next is not None:
        chat_wait = max(chat_wait, state.chat_next + rule.margin - now)
    if chat_wait > 0 or global_wait > 0:
        return Decision(chat_wait, global_wait, state)
    return Decision(0.0, 0.0, _record(state, now, rule))


def take_ahead(state: State, now: float, rule: Rules, reach: float) -> tuple[float, Decision]:
    """`take` for the moment the rules allow a send, when that comes within `reach` seconds of `now`:
    that moment and the decision (else `now` and the refusal). Granting the exact moment the window
    frees, instead of refusing and asking again after the wait, loses no time in between."""
    first = take(state, now, rule)
    at, decision = now, first
    while not decision.allowed and at + decision.wait <= now + reach:
        at = max(at + decision.wait, math.nextafter(at, math.inf))
        decision = take(state, at, rule)
    return (at, decision) if decision.allowed else (now, first)


def restamped(state: State, recorded: float, went: float, rule: Rules) -> State:
    """The state once a send recorded for `recorded` is known to have gone at `went`, later: its entry
    moved in the channel's and the chat's logs (kept in order), the chat's next-send bound no earlier
    than the moved send allows. Successors are then judged against when the send really went."""
    sent = _moved(state.sent, recorded, went)[-rule.global_per_second :] if rule.global_per_second else ()
    if rule.chat_per_second is None:
        return State(sent)
    chat_sent = _moved(state.chat_sent, recorded, went)[-rule.burst :]
    chat_next = state.chat_next
    if len(chat_sent) == rule.burst:
        bound = chat_sent[0] + 1 / rule.chat_per_second
        chat_next = bound if chat_next is None else max(chat_next, bound)
    return State(sent, chat_sent, chat_next)


def _moved(times: tuple[float, ...], recorded: float, went: float) -> tuple[float, ...]:
    """The sorted times with the one nearest `recorded` (if within a microsecond) replaced by `went`."""
    entries = list(times)
    nearest = min(range(len(entries)), key=lambda n: abs(entries[n] - recorded), default=None)
    if nearest is not None and abs(entries[nearest] - recorded) <= 1e-6:
        del entries[nearest]
    bisect.insort(entries, went)
    return tuple(entries)


def _settled(state: State, now: float) -> State:
    """The state, minus what a clock that has since stepped back recorded in its future: beyond a window
    ahead (a grant made for a moment just ahead is kept)."""
    if state.sent and state.sent[-1] > now + WINDOW:
        state = State((), state.chat_sent, state.chat_next)
    if state.chat_sent and state.chat_sent[-1] > now + WINDOW:
        state = State(state.sent)
    return state


def _record(state: State, now: float, rule: Rules) -> State:
    """The state after a send at `now`.

    Per chat, the k-th send must come (k - burst) / rate + margin after the first of any k; the
    bound for the next send chains the oldest of the last `burst` sends with the previous bound.
    """
    sent = (*state.sent, now)[-rule.global_per_second :] if rule.global_per_second is not None else ()
    if rule.chat_per_second is None:
        return State(sent)
    chat_sent = (*state.chat_sent, now)[-rule.burst :]
    chat_next = state.chat_next
    if len(chat_sent) == rule.burst:
        oldest = chat_sent[0] if chat_next is None else max(chat_next, chat_sent[0])
        chat_next = oldest + 1 / rule.chat_per_second
    return State(sent, chat_sent, chat_next)


class Limiter(Protocol):
    """Rate-limits sends per channel: overall and per chat, replies before bulk."""

    async def acquire(self, channel: str, address: str, priority: Priority) -> None:
        """Wait until a send to `address` is allowed, then record it."""
        ...


@dataclass(eq=False)
class _Turn:
    """One acquirer waiting for its channel's turn, not before `ready_at` (its chat's bucket)."""

    ticket: Ticket
    address: str
    ready_at: float
    future: asyncio.Future[None]


class _Gate:
    """A channel's turn to contend for capacity: by (priority, arrival), and per chat in order."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._arrivals = itertools.count()
        self._waiting: list[_Turn] = []
        self._holder: Ticket | None = None
        self._outranked = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def ticket(self, priority: int) -> Ticket:
        return int(priority), next(self._arrivals)

    async def enter(self, ticket: Ticket, address: str, ready_at: float) -> None:
        """Wait for the turn: until this is the first ready ticket and the first of its chat."""
        turn = _Turn(ticket, address, ready_at, asyncio.get_running_loop().create_future())
        bisect.insort(self._waiting, turn, key=lambda waiting: waiting.ticket)
        self._dispatch()
        try:
            await turn.future
        except asyncio.CancelledError:
            if turn.future.done() and not turn.future.cancelled():
                self.leave()
            else:
                self._dispatch()
            raise

    def leave(self) -> None:
        """Give up the turn."""
        self._holder = None
        self._outranked.clear()
        self._dispatch()

    async def sleep(self, seconds: float) -> bool:
        """Sleep holding the turn; True, cut short, when a ready ticket ahead of the holder appears."""
        try:
            async with asyncio.timeout(seconds):
                await self._outranked.wait()
        except TimeoutError:
            return False
        return True

    def queued(self) -> int | None:
        """The best priority among the tickets ready and waiting behind the holder."""
        now = self._clock()
        ready = (turn.ticket[0] for turn in self._waiting if turn.ready_at <= now and not turn.future.done())
        return min(ready, default=None)

    def _dispatch(self) -> None:
        """Hand the free turn to the first eligible ticket, or tell the holder it is outranked."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = [turn for turn in self._waiting if not turn.future.done()]
        now, retry, chats = self._clock(), math.inf, set()
        for turn in self._waiting:
            if turn.address in chats:
                continue
            chats.add(turn.address)
            if turn.ready_at > now:
                retry = min(retry, turn.ready_at)
            elif self._holder is None:
                self._holder = turn.ticket
                self._waiting.remove(turn)
                turn.future.set_result(None)
                break
            else:
                if turn.ticket < self._holder:
                    self._outranked.set()
                break
        if retry < math.inf:
            self._timer = asyncio.get_running_loop().call_later(retry - now, self._dispatch)


class _Outcome(NamedTuple):
    """One attempt: granted (go after `wait`; `recorded`: the moment the limiter's state holds for the
    send, which may correspond to up to `unsure` seconds before `wait` ends), or refused for `wait` by
    the chat or the window."""

    granted: bool
    wait: float = 0.0
    on_chat: bool = False
    recorded: float | None = None
    unsure: float = 0.0


def _refusal(decision: Decision) -> _Outcome:
    if decision.chat_wait > 0:
        return _Outcome(False, decision.chat_wait, on_chat=True)
    return _Outcome(False, decision.global_wait)


class _QueuedLimiter:
    """Acquirers queue per channel by priority; the head asks `_attempt` and sleeps as told."""

    def __init__(self, rules: Mapping[str, Rules], clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = dict(rules)
        self._clock = clock
        self._gates: dict[str, _Gate] = {}

    async def acquire(self, channel: str, address: str, priority: Priority) -> None:
        """Wait until a send to `address` is allowed, then record it."""
        rule = self.rules.get(channel)
        if rule is None or rule.unlimited:
            return
        gate = self._gates.setdefault(channel, _Gate(self._clock))
        ticket = gate.ticket(priority)
        ready_at = -math.inf
        while True:
            await gate.enter(ticket, address, ready_at)
            try:
                outcome = await self._attempt(rule, channel, address, Priority(priority), gate.queued())
                while not (outcome.granted or outcome.on_chat or await gate.sleep(outcome.wait)):
                    outcome = await self._attempt(rule, channel, address, Priority(priority), gate.queued())
            finally:
                gate.leave()
            if outcome.granted:
                await self._release(rule, channel, address, outcome)
                return
            ready_at = self._clock() + outcome.wait if outcome.on_chat else -math.inf

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> _Outcome:
        """Take a token if allowed; `queued` is the best priority of this process's next acquirers."""
        raise NotImplementedError

    async def _release(self, rule: Rules, channel: str, address: str, outcome: _Outcome) -> None:
        """Let a granted acquirer go at its moment; if that happens more than the margin late (a slow
        commit, a busy event loop, a slow answer from the database's clock: counted from the earliest
        moment the recorded one may stand for), have the state record when it really went."""
        due = self._clock() + outcome.wait - outcome.unsure
        if outcome.wait > 0:
            await asyncio.sleep(outcome.wait)
        late = self._clock() - due
        if late > rule.margin and outcome.recorded is not None:
            self._went_late(rule, channel, address, outcome.recorded, outcome.recorded + late)

    def _went_late(self, rule: Rules, channel: str, address: str, recorded: float, went: float) -> None:
        """A send recorded for `recorded` went at `went` (both on the limiter's clock)."""


class MemoryLimiter(_QueuedLimiter):
    """The limiter of a single process (SQLite): state in memory, FIFO within a priority."""

    def __init__(self, rules: Mapping[str, Rules], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rules, clock)
        self._sent: dict[str, tuple[float, ...]] = {}
        self._chats: dict[tuple[str, str], tuple[tuple[float, ...], float | None]] = {}
        self._grants = itertools.count(1)

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> _Outcome:
        now = self._clock()
        key = channel, address
        decision = take(State(self._sent.get(channel, ()), *self._chats.get(key, ((), None))), now, rule)
        if not decision.allowed:
            return _refusal(decision)
        self._sent[channel] = decision.state.sent
        if rule.chat_per_second is not None:
            self._chats[key] = decision.state.chat_sent, decision.state.chat_next
        if next(self._grants) % PRUNE_EVERY == 0:
            self._prune(now)
        return _Outcome(True)

    def _prune(self, now: float) -> None:
        """Forget chats idle long enough for their bucket to be full again."""
        self._chats = {key: chat for key, chat in self._chats.items() if not self._idle(key[0], chat[0], now)}

    def _idle(self, channel: str, chat_sent: tuple[float, ...], now: float) -> bool:
        rule = self.rules[channel]
        refill = rule.burst / rule.chat_per_second if rule.chat_per_second else 0.0
        return not chat_sent or chat_sent[-1] + refill + rule.margin <= now


class DatabaseLimiter(_QueuedLimiter):
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
    ) -> _Outcome:
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
                outcome, hold = _Outcome(True, recorded=at), queued
                if chat_key is not None:
                    writes[chat_key] = {"sent": list(decision.state.chat_sent), "next": decision.state.chat_next}
                shared = {**shared, "sent": list(decision.state.sent)}
            else:
                outcome = self._early(_refusal(decision))
                if not outcome.on_chat:
                    outcome = _Outcome(False, outcome.wait or HOLD_POLL)
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

    def _early(self, refusal: _Outcome) -> _Outcome:
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


def make_limiter(db: Database, settings: Settings) -> Limiter:
    """In memory on SQLite (one process), in the database on PostgreSQL (many processes)."""
    rules = rules_from_settings(settings)
    return MemoryLimiter(rules) if db.is_sqlite else DatabaseLimiter(db, rules)
