"""Every Prometheus metric of the bot, in one place. Labels carry kinds and outcomes only: never an
id, a phone number, a name or a chat id.

Each process has its own registry (prometheus-client's default; no multiprocess mode): scrape every
web process at /metrics and every worker at METRICS_PORT. The outbox gauge is read from the database
when /metrics is scraped, so it is the same whichever web process answers."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outbox
from storage.outbox import Priority

disable_created_metrics()  # no `_created` series beside every counter and histogram: Prometheus does not need them

# Inbound messages by channel and outcome: handled, duplicate, failed (a step's bug, apologised for),
# unavailable (the database was down; the platform delivers it again).
INBOUND = Counter("ksbb_inbound_total", "Inbound messages by channel and outcome", ["channel", "outcome"])

# One inbound message's transaction, from the dedupe row to the commit (the flow step and its writes).
STEP_SECONDS = Histogram(
    "ksbb_step_seconds", "Time to handle one inbound message in its transaction", ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Send attempts by channel and outcome: sent, throttled (the platform answered 429), held (a gate kept
# it back: WhatsApp's window or daily cap), expired, unreachable (blocked, opted out, no such user),
# failed (permanent, or transient too many times), retry (transient: tried again later).
SENDS = Counter("ksbb_sends_total", "Outbox send attempts by channel and outcome", ["channel", "outcome"])

# Outbox rows by status and priority, read from the database at scrape time (see `refresh_outbox`).
OUTBOX = Gauge("ksbb_outbox_rows", "Outbox rows by status and priority", ["status", "priority"])

# The scheduler's last completed tick (Unix time); set only in the process holding the scheduler lock.
SCHEDULER_LAST_TICK = Gauge("ksbb_scheduler_last_tick_timestamp_seconds", "When the scheduler last ticked")

# Hook for the understanding layer (DESIGN.md, "Understanding people"), which does not exist yet: it
# will count each free-text answer it maps with `UNDERSTANDING.labels(outcome=...).inc()`, outcome one
# of understood, asked (ambiguous, asked back) or not_understood; the understanding rate is then
# understood / all. Nothing increments it today, so it has no samples.
UNDERSTANDING = Counter("ksbb_understanding_total", "Free-text answers by understanding outcome", ["outcome"])


async def refresh_outbox(session: AsyncSession) -> None:
    """Set the outbox gauge from one GROUP BY over the table; statuses no longer present drop out."""
    rows = (await session.execute(
        select(Outbox.status, Outbox.priority, func.count()).group_by(Outbox.status, Outbox.priority)
    )).all()
    OUTBOX.clear()
    for status, priority, count in rows:
        name = Priority(priority).name.lower() if priority in iter(Priority) else str(priority)
        OUTBOX.labels(status=status, priority=name).set(count)


def exposition() -> tuple[bytes, str]:
    """This process's metrics in Prometheus text format, and their content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
