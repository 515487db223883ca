"""Helpers for talking to the engine in-process."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from bot.engine import Engine, Outcome
from handlers.messages import Inbound, Kind, Reply
from storage.db import Database
from storage.models import Outbox

_ids = itertools.count(1)


def inbound(user: str = "siti", text: str = "", kind: Kind = Kind.TEXT, **fields: object) -> Inbound:
    """A local-chat message from `user` with a fresh platform id."""
    values: dict[str, object] = {
        "channel": "local",
        "bot": "local",
        "platform_id": f"m{next(_ids)}",
        "sender": f"local:{user}",
        "address": user,
        "kind": kind,
        "text": text,
    }
    values.update(fields)
    return Inbound(**values)  # type: ignore[arg-type]


async def replies(db: Database, outcome: Outcome) -> list[Reply]:
    """The replies an outcome left in the outbox, in order."""
    async with db.transaction() as session:
        rows = await session.execute(select(Outbox.body).where(Outbox.id.in_(outcome.reply_ids)).order_by(Outbox.id))
        return [Reply.from_body(body) for body in rows.scalars()]


class Direct:
    """A person talking to the engine directly, seeing the reply texts of each message."""

    def __init__(self, engine: Engine, db: Database, user: str = "siti") -> None:
        self.engine = engine
        self.db = db
        self.user = user

    async def send(self, text: str = "", kind: Kind = Kind.TEXT, **fields: object) -> list[Reply]:
        outcome = await self.engine.handle(inbound(self.user, text, kind, **fields))
        return await replies(self.db, outcome)

    async def texts(self, text: str = "", kind: Kind = Kind.TEXT, **fields: object) -> list[str]:
        return [reply.text for reply in await self.send(text, kind, **fields)]


async def register(chat: Direct, kelurahan: str = "Kebon Melati", rw: str = "12") -> None:
    """Welcome, Indonesian, consent, name, a typed kelurahan, the RW."""
    for message in ("/start", "1", "Daftar sebagai warga", "Setuju", "Siti Aminah", kelurahan, "1", rw):
        await chat.send(message)
