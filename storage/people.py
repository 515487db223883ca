"""People and their channel identities."""

from __future__ import annotations

import re
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


PHONE_START = re.compile(r"^(?:\+62|62|0)[0-9]")


def e164(text: str) -> str | None:
    """`0812-3456-7890`, `62812…` or `+62 812…` as `+62812…`; None if it is not an Indonesian mobile number."""
    compact = re.sub(r"[\s().-]", "", text)
    if not PHONE_START.match(compact) or not compact.lstrip("+").isdigit():
        return None
    digits = compact.lstrip("+")
    national = digits[1:] if digits.startswith("0") else digits[2:]
    return f"+62{national}" if 8 <= len(national) <= 12 else None
