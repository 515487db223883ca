"""People and their channel identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Identity, Person


async def find_identity(session: AsyncSession, key: str) -> Identity | None:
    """The identity with this key, with its person loaded."""
    statement = select(Identity).options(joinedload(Identity.person)).where(Identity.key == key)
    return (await session.execute(statement)).scalar_one_or_none()


async def identify(
    session: AsyncSession, key: str, channel: str, address: str, locale: str, now: datetime
) -> Identity:
    """The identity for this key, creating a new person for a first-time sender."""
    identity = await find_identity(session, key)
    if identity is None:
        person = Person(locale=locale, created_at=now, last_seen_at=now)
        identity = Identity(key=key, channel=channel, address=address, person=person, created_at=now)
        session.add(identity)
    identity.address = address
    identity.last_inbound_at = now
    identity.unreachable_at = None
    identity.person.last_seen_at = now
    await session.flush()
    return identity
