"""The shared send rate limiter: every send, from any process, first takes a token here.

`rules.take` decides (a pure function of the recent grants); `queue.QueuedLimiter` orders a process's
acquirers; `MemoryLimiter` keeps the state in memory (one process, SQLite), `DatabaseLimiter` in the
`limiter_state` table (any number of processes, PostgreSQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.limiter.memory import MemoryLimiter
from bot.limiter.queue import Limiter
from bot.limiter.rules import Decision, Rules, State, restamped, rules_from_settings, spread, take, take_ahead
from bot.limiter.shared import DatabaseLimiter
from storage.db import Database

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "Decision",
    "DatabaseLimiter",
    "Limiter",
    "MemoryLimiter",
    "Rules",
    "State",
    "make_limiter",
    "restamped",
    "rules_from_settings",
    "spread",
    "take",
    "take_ahead",
]


def make_limiter(db: Database, settings: Settings) -> Limiter:
    """In memory on SQLite (one process), in the database on PostgreSQL (many processes)."""
    rules = rules_from_settings(settings)
    return MemoryLimiter(rules) if db.is_sqlite else DatabaseLimiter(db, rules)
