"""The limiter of a single process (SQLite): its state in memory."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping

from bot.limiter.queue import Outcome, QueuedLimiter, refusal
from bot.limiter.rules import Rules, State, take
from storage.outbox import Priority

PRUNE_EVERY = 1024


class MemoryLimiter(QueuedLimiter):
    """The limiter of a single process (SQLite): state in memory, FIFO within a priority."""

    def __init__(self, rules: Mapping[str, Rules], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rules, clock)
        self._sent: dict[str, tuple[float, ...]] = {}
        self._chats: dict[tuple[str, str], tuple[tuple[float, ...], float | None]] = {}
        self._grants = itertools.count(1)

    async def _attempt(
        self, rule: Rules, channel: str, address: str, priority: Priority, queued: int | None
    ) -> Outcome:
        now = self._clock()
        key = channel, address
        decision = take(State(self._sent.get(channel, ()), *self._chats.get(key, ((), None))), now, rule)
        if not decision.allowed:
            return refusal(decision)
        self._sent[channel] = decision.state.sent
        if rule.chat_per_second is not None:
            self._chats[key] = decision.state.chat_sent, decision.state.chat_next
        if next(self._grants) % PRUNE_EVERY == 0:
            self._prune(now)
        return Outcome(True)

    def _prune(self, now: float) -> None:
        """Forget chats idle long enough for their bucket to be full again."""
        self._chats = {key: chat for key, chat in self._chats.items() if not self._idle(key[0], chat[0], now)}

    def _idle(self, channel: str, chat_sent: tuple[float, ...], now: float) -> bool:
        rule = self.rules[channel]
        refill = rule.burst / rule.chat_per_second if rule.chat_per_second else 0.0
        return not chat_sent or chat_sent[-1] + refill + rule.margin <= now
