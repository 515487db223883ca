"""Messages the bot starts to someone other than the sender (receipts, decisions, progress)."""

from __future__ import annotations

from bot.i18n import translate
from bot.messages import Reply
from handlers.dialog import Context
from storage import outbox
from storage.models import Person
from storage.outbox import Priority


async def notify(ctx: Context, person: Person, key: str, priority: Priority = Priority.NOTIFY, **values: object) -> bool:
    """Queue a message in the person's own language on the channel they used last; False when
    they have no reachable channel."""
    identity = await outbox.last_used_identity(ctx.session, person.id)
    if identity is None:
        return False
    ctx.session.add(
        outbox.new_row(
            channel=identity.channel,
            address=identity.address,
            body=Reply(translate(person.locale, key, **values)).to_body(),
            priority=priority,
            now=ctx.now,
            person_id=person.id,
        )
    )
    return True
