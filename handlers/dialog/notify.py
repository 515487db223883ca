"""Messages the bot starts to someone other than the sender (receipts, decisions, progress)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dialog.machine import Context
from handlers.messages import Reply
from handlers.text.i18n import translate
from storage import outbox
from storage.models import Person
from storage.outbox import NOTIFICATION, Priority


async def notify(ctx: Context, person: Person, key: str, priority: Priority = Priority.NOTIFY, **values: object) -> bool:
    """Queue a message in the person's own language on the channel they used last; False when
    they have no reachable channel."""
    return await notify_person(ctx.session, ctx.now, person, key, priority, **values)


async def notify_person(
    session: AsyncSession, now: datetime, person: Person, key: str, priority: Priority = Priority.NOTIFY,
    **values: object,
) -> bool:
    """`notify` outside a conversation (a scheduled duty)."""
    return await send_to(session, now, person, Reply(translate(person.locale, key, **values), kind=NOTIFICATION),
                         priority)


async def send_to(
    session: AsyncSession, now: datetime, person: Person, reply: Reply, priority: Priority = Priority.NOTIFY
) -> bool:
    """Queue a composed reply (text in the person's language, maybe with a document or image) on the
    channel they used last; False when they have no reachable channel."""
    identity = await outbox.last_used_identity(session, person.id)
    if identity is None:
        return False
    session.add(
        outbox.new_row(
            channel=identity.channel,
            address=identity.address,
            body=reply.to_body(),
            priority=priority,
            now=now,
            person_id=person.id,
        )
    )
    return True
