"""`python -m bench.serve web|worker [options]`: exactly `ksbb web` or `ksbb worker`, with the shared send
limiter switched off. The intake and memory benchmarks send every reply to a fake Bot API without limits,
as the issue asks; with the limiter on, replies would queue at Telegram's 30 per second (the broadcast
benchmark measures that), and raising its limits instead would make its sliding-window log as long as the
limit. Everything else (settings from the environment, the engine, the sender, uvicorn) is the CLI's."""

from __future__ import annotations

import sys

import bot.app
from bot.limiter import MemoryLimiter


def unlimited(db: object, settings: object) -> MemoryLimiter:
    """A limiter with no rules: every acquire returns at once."""
    return MemoryLimiter({})


if __name__ == "__main__":
    bot.app.make_limiter = unlimited  # type: ignore[assignment]
    from bot.cli import main

    sys.exit(main(sys.argv[1:]))
