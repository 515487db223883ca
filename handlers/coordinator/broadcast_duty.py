"""The scheduler's broadcast duty: enqueue scheduled broadcasts when due, tell the creator how far
delivery has come (`terkirim 1.200 dari 3.400`) and, once no row is pending, the final tally. Each
is an occurrence claimed once, so restarts and a second worker neither lose nor repeat one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.coordinator.broadcast import tell_creator
from handlers.text.i18n import N_
from storage import broadcasts
from storage.broadcasts import CANCELLED, DONE, OCCURRENCE_KIND, SENDING
from storage.models import Broadcast
from storage.schedule import claim_occurrence

PROGRESS_EVERY = 500  # messages between progress reports (and at most one per tick, once a minute)
LATE = timedelta(hours=12)  # a scheduled broadcast not sent by then is dropped, not sent late
TOO_LATE, PROGRESS, TALLY = N_("broadcast.too_late"), N_("broadcast.progress"), N_("broadcast.tally")


async def broadcast_duty(session: AsyncSession, now: datetime) -> None:
    """Enqueue what is due, then report on everything sending."""
    for broadcast in await broadcasts.due(session, now):
        if now - broadcast.send_at > LATE:
            broadcast.status = CANCELLED
            await tell_creator(session, now, broadcast, TOO_LATE, when=broadcast.send_at)
        else:
            await broadcasts.enqueue(session, broadcast, now)
    for broadcast in await broadcasts.in_status(session, SENDING):
        await report(session, now, broadcast)


async def report(session: AsyncSession, now: datetime, broadcast: Broadcast) -> None:
    """The tally once nothing is pending (and the broadcast is done), else progress every few hundred."""
    tally = await broadcasts.tally(session, broadcast)
    target = str(broadcast.id)
    if not tally.pending:
        broadcast.status = DONE
        if await claim_occurrence(session, OCCURRENCE_KIND, target, "tally", now):
            await tell_creator(
                session, now, broadcast, TALLY, sent=tally.sent, failed=tally.failed,
                unreachable=tally.unreachable, opted_out=tally.opted_out, needs_template=tally.needs_template,
            )
        return
    step = tally.done // PROGRESS_EVERY
    if step and await claim_occurrence(session, OCCURRENCE_KIND, target, f"progress:{step}", now):
        await tell_creator(session, now, broadcast, PROGRESS, sent=tally.sent, total=tally.total)
