"""`python -m bench.traced GRANTS ksbb-arguments…`: `ksbb` as usual, except that every token the send limiter
grants is written to the file GRANTS (appended, one line each: the moment on this machine's monotonic clock, the
channel, the address, the priority), so a benchmark can tell our pacing from what the platform saw."""

from __future__ import annotations

import sys
import time

from bot import limiter


def trace_grants(path: str) -> None:
    """Make every limiter of this process write its grants to `path`."""
    log = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process's life; line writes are atomic)
    acquire = limiter._QueuedLimiter.acquire

    async def traced(self: limiter._QueuedLimiter, channel: str, address: str, priority: limiter.Priority) -> None:
        await acquire(self, channel, address, priority)
        log.write(f"{time.monotonic():.6f} {channel} {address} {int(priority)}\n")

    limiter._QueuedLimiter.acquire = traced  # type: ignore[method-assign]


def main() -> int:
    path, *arguments = sys.argv[1:]
    trace_grants(path)
    from bot.cli import main as ksbb

    return ksbb(arguments)


if __name__ == "__main__":
    sys.exit(main())
