"""The shared send rate limiter: every send, from any process, first takes a token here.

Rules, per channel: at most `global_per_second` sends in any sliding one-second window (a log of
the last N grant times, as the platform counts them), and per chat a token bucket of `chat_burst`
refilled at `chat_per_second`. Each rule keeps `margin` seconds of slack (N+1 sends are at least
1 s + margin apart; any k > burst sends to one chat span at least (k - burst) / rate + margin), so
jitter between our clock and the platform's never turns into a 429. The decision is the pure
function `take`; `MemoryLimiter` keeps the state in memory (one process, SQLite), `DatabaseLimiter`
in the `limiter_state` table (any number of processes, PostgreSQL).

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
moment, so the varying time to write and commit never makes a send earlier than recorded. Each
attempt is one short transaction (synchronous_commit off: the state is disposable) that inserts
the missing rows of the global key `<channel>:*` and the chat key `<channel>:<address>`, locks them
with SELECT … FOR UPDATE in key order, decides, writes and commits; a refused acquirer sleeps
outside the transaction.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
import uuid
from collections.abc import Callable, Mapping
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
    "rules_from_settings",
    "take",
]

WINDOW = 1.0
SAFETY_MARGIN = 0.005
HOLD_GRACE = 0.5
HOLD_POLL = 0.02
LEAD = 0.01
PRUNE_EVERY = 1024

Ticket = tuple[int, int]


@dataclass(frozen=True)
class Rules:
    """One channel's send limits; None is unlimited, and a chat limit needs `chat_per_second`."""

    global_per_second: int | None = None
    chat_burst: int | None = None
    chat_per_second: float | None = None
    margin: float = SAFETY_MARGIN

    @property
    def unlimited(self) -> bool:
        return self.global_per_second is None and self.chat_per_second is None

    @property
    def burst(self) -> int:
        return self.chat_burst or 1


def rules_from_settings(settings: Settings) -> dict[str, Rules]:
    """Every channel's rules, from the settings."""
    telegram = Rules(
        settings.telegram_global_per_second,
        settings.telegram_chat_burst,
        settings.telegram_chat_per_second,
        settings.limiter_margin_seconds,
    )
    whatsapp = Rules(global_per_second=settings.twilio_mps, margin=settings.limiter_margin_seconds)
    return {"telegram": telegram, "whatsapp": whatsapp, "local": Rules()}


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
    """Whether a send at `now` is allowed; if so the state that records it, else how long to wait."""
    state = _settled(state, now)
    limit = rule.global_per_second
    global_wait = 0.0
    if limit is not None and len(state.sent) >= limit:
        global_wait = max(0.0, state.sent[-limit] + WINDOW + rule.margin - now)
    chat_wait = 0.0
    if rule.chat_per_second is not None and state.chat_next is not None:
        chat_wait = max(0.0, state.chat_next + rule.margin - now)
    if chat_wait > 0 or global_wait > 0:
        return Decision(chat_wait, global_wait, state)
    return Decision(0.0, 0.0, _record(state, now, rule))


def _settled(state: State, now: float) -> State:
    """The state, minus what a clock that has since stepped back recorded in its future."""
    if state.sent and state.sent[-1] > now:
        state = State((), state.chat_sent, state.chat_next)
    if state.chat_sent and state.chat_sent[-1] > now:
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
    """One attempt: granted (go after `wait`), or refused for `wait` by the chat or the window."""

    granted: bool
    wait: float = 0.0
    on_chat: bool = False


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
                if outcome.wait > 0:
                    await asyncio.sleep(outcome.wait)
                return
            ready_at = self._clock() + outcome.wait if outcome.on_chat else -math.inf

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> _Outcome:
        """Take a token if allowed; `queued` is the best priority of this process's next acquirers."""
        raise NotImplementedError


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

    def __init__(self, db: Database, rules: Mapping[str, Rules], lead: float = LEAD) -> None:
        super().__init__(rules)
        self.db = db
        self.lead = lead
        self.id = uuid.uuid4().hex[:16]

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> _Outcome:
        shared_key = f"{channel}:*" if rule.global_per_second is not None else None
        chat_key = f"{channel}:{address}" if rule.chat_per_second is not None else None
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                await session.execute(text("SET LOCAL synchronous_commit = off"))
            states = await self._lock(session, sorted(key for key in (shared_key, chat_key) if key is not None))
            now = await self._now(session) + self.lead
            send_at = time.monotonic() + self.lead
            shared, chat = states.get(shared_key or "", {}), states.get(chat_key or "", {})
            state = State(tuple(shared.get("sent", ())), tuple(chat.get("sent", ())), chat.get("next"))
            decision = take(state, now, rule)
            holds = {key: hold for key, hold in shared.get("waiting", {}).items() if key != self.id and hold[1] > now}
            writes: dict[str, dict[str, Any]] = {}
            if decision.allowed and not any(held < priority for held, _ in holds.values()):
                outcome, hold = _Outcome(True), queued
                if chat_key is not None:
                    writes[chat_key] = {"sent": list(decision.state.chat_sent), "next": decision.state.chat_next}
                shared = {**shared, "sent": list(decision.state.sent)}
            else:
                outcome = _refusal(decision)
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
        if outcome.granted:
            return _Outcome(True, send_at - time.monotonic())
        return outcome

    def _insert(self) -> Any:
        return (sqlite if self.db.is_sqlite else postgresql).insert(LimiterState)

    async def _lock(self, session: AsyncSession, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Insert the missing rows, then lock all of them in key order."""
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


def make_limiter(db: Database, settings: Settings) -> Limiter:
    """In memory on SQLite (one process), in the database on PostgreSQL (many processes)."""
    rules = rules_from_settings(settings)
    return MemoryLimiter(rules) if db.is_sqlite else DatabaseLimiter(db, rules)
