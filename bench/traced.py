"""`python -m bench.traced GRANTS ksbb-arguments…`: `ksbb` as usual, except that every token the send limiter
grants is written to the file GRANTS (appended, one line each: the moment the sender was let go, on this machine's
monotonic clock; the channel; the address; the priority; and how many milliseconds after the moment the limiter
recorded for the send it was let go), so a benchmark can tell our pacing from what the platform saw."""

from __future__ import annotations

import sys
import time
from contextvars import ContextVar

from bot import limiter
from bot.limiter import memory, queue, rules

_recorded: ContextVar[float] = ContextVar("recorded", default=0.0)


def trace_grants(path: str) -> None:
    """Make every limiter of this process write its grants to `path`."""
    log = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process's life; line writes are atomic)
    acquire, take = queue.QueuedLimiter.acquire, rules.take

    def recording(state: rules.State, now: float, rule: rules.Rules) -> rules.Decision:
        decision = take(state, now, rule)
        if decision.allowed:
            _recorded.set(now)  # the database's clock (epoch) for DatabaseLimiter, time.monotonic() in memory
        return decision

    async def traced(self: queue.QueuedLimiter, channel: str, address: str, priority: queue.Priority) -> None:
        await acquire(self, channel, address, priority)
        released = time.monotonic()
        clock = time.time() if isinstance(self, limiter.DatabaseLimiter) else released
        late = (clock - _recorded.get()) * 1000 if _recorded.get() else 0.0
        log.write(f"{released:.6f} {channel} {address} {int(priority)} {late:.1f}\n")

    rules.take = memory.take = recording  # type: ignore[assignment] (take_ahead looks up rules.take)
    queue.QueuedLimiter.acquire = traced  # type: ignore[method-assign]


def main() -> int:
    path, *arguments = sys.argv[1:]
    trace_grants(path)
    from bot.cli import main as ksbb

    return ksbb(arguments)


if __name__ == "__main__":
    sys.exit(main())
