"""Order within a process. A channel's acquirers queue by (priority, arrival); only the first ready
one contends for capacity, sleeping until the window frees and stepping aside when a ticket ahead
of it becomes ready. An acquirer refused by its chat's bucket waits in the queue without holding
up other chats, and one chat's acquirers go in queue order. So a process is FIFO within a
priority, replies overtake waiting bulk, and one transaction per process contends for a channel.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from bot.limiter.rules import Decision, Rules
from storage.outbox import Priority

Ticket = tuple[int, int]


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


class Outcome(NamedTuple):
    """One attempt: granted (go after `wait`; `recorded`: the moment the limiter's state holds for the
    send, which may correspond to up to `unsure` seconds before `wait` ends), or refused for `wait` by
    the chat or the window."""

    granted: bool
    wait: float = 0.0
    on_chat: bool = False
    recorded: float | None = None
    unsure: float = 0.0


def refusal(decision: Decision) -> Outcome:
    if decision.chat_wait > 0:
        return Outcome(False, decision.chat_wait, on_chat=True)
    return Outcome(False, decision.global_wait)


class QueuedLimiter:
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
    ) -> Outcome:
        """Take a token if allowed; `queued` is the best priority of this process's next acquirers."""
        raise NotImplementedError

    async def _release(self, rule: Rules, channel: str, address: str, outcome: Outcome) -> None:
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
