"""WhatsApp's 24-hour window, checked at send time. A message the bot starts (broadcast, reminder,
notification) to someone whose last message to us is older than 24 hours may only go as an
approved template: the one configured for its kind, with the text as its variable. With no
template it is not sent (counted as such), and once the day's cap of business-initiated
conversations is reached such messages wait until a conversation of the last 24 hours expires."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.whatsapp import CHANNEL
from bot.sender import Hold
from handlers.messages import Reply, Template
from storage import outbox
from storage.db import Database
from storage.models import Identity, Outbox
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_VARIABLE = 1024  # WhatsApp's limit for one template variable


def template_text(text: str) -> str:
    """The text as one template variable: WhatsApp refuses newlines and long runs of spaces in one."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_VARIABLE else flat[: MAX_VARIABLE - 1] + "…"


class Window:
    """Prepares each WhatsApp row for sending: as it is, as its template, or held."""

    def __init__(self, db: Database, templates: Mapping[str, str], daily_cap: int) -> None:
        self.db = db
        self.templates = dict(templates)
        self.daily_cap = daily_cap
        self._lock = asyncio.Lock()
        self._reserved: dict[str, datetime] = {}  # addresses this process sent a template to, and when

    async def prepare(self, row: Outbox, reply: Reply, closed: bool = False) -> Reply | Hold:
        """`closed`: the platform already said the window is closed (error 63016)."""
        if row.priority == outbox.Priority.REPLY and not closed:
            return reply  # an answer to someone who just wrote
        now = utcnow()
        async with self.db.transaction() as session:
            if not closed:
                last = (await session.execute(
                    select(func.max(Identity.last_inbound_at)).where(
                        Identity.channel == CHANNEL, Identity.address == row.address)
                )).scalar_one_or_none()
                if last is not None and now - last < outbox.WHATSAPP_WINDOW:
                    return reply
            sid = self.templates.get(reply.kind or (outbox.BROADCAST if row.broadcast_id else outbox.NOTIFICATION))
            if sid is None:
                return Hold({"status": outbox.NEEDS_TEMPLATE, "error": "no template for a closed window"})
            async with self._lock:
                if not await self._may_open(session, row.address, now):
                    log.warning("WhatsApp daily cap of %d business-initiated conversations reached", self.daily_cap)
                    return Hold({"not_before": now + timedelta(minutes=30), "error": "daily cap reached"})
        return replace(reply, choices=(), template=Template(sid, {"1": template_text(reply.text)}))

    async def _may_open(self, session: AsyncSession, address: str, now: datetime) -> bool:
        """Whether a template may go to `address`: it has a conversation of the last 24 hours already, or
        the cap leaves room for one more (counting the ones this process just let through, whose rows
        are not recorded yet). Exact within one process; several senders may overshoot by a batch."""
        since = now - outbox.WHATSAPP_WINDOW
        self._reserved = {a: at for a, at in self._reserved.items() if at > since}
        statement = select(Outbox.address).distinct().where(
            Outbox.channel == CHANNEL, Outbox.template_sid.is_not(None), Outbox.sent_at >= since
        )
        opened = set((await session.execute(statement)).scalars()) | set(self._reserved)
        if address not in opened and len(opened) >= self.daily_cap:
            return False
        self._reserved[address] = now
        return True
