"""`BERHENTI`, `STOP` or `/berhenti` stops broadcasts and reminders (replies to the person's own
messages still come); `MULAI` or `/mulai` from someone who stopped them resubscribes."""

from __future__ import annotations

from handlers.dialog.machine import Context
from storage.broadcasts import drop_pending_bulk


async def stop(ctx: Context, arg: str) -> None:
    """Opts out, dropping broadcasts and reminders not yet sent; stays where the person was."""
    if ctx.person.opted_out_at is None:
        ctx.person.opted_out_at = ctx.now
        await drop_pending_bulk(ctx.session, ctx.person.id)
    ctx.say("optout.stopped")


async def resume(ctx: Context, arg: str) -> None:
    """Resubscribes; stays where the person was."""
    ctx.person.opted_out_at = None
    ctx.say("optout.resumed")
