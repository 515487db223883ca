"""People and their channel identities."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Identity, Person


async def find_identity(session: AsyncSession, key: str) -> Identity | None:
    """The identity with this key, with its person loaded."""
    statement = select(Identity).options(joinedload(Identity.person)).where(Identity.key == key)
    return (await session.execute(statement)).scalar_one_or_none()


# A person's "last seen" (for the purge of people who never consented) is written again only once it is this
# old, so most messages do not write the person. The identity's last message time is always exact: it picks
# the channel the bot writes to first and judges WhatsApp's 24-hour window.
SEEN_PRECISION = timedelta(minutes=1)


async def identify(
    session: AsyncSession, key: str, channel: str, address: str, locale: str, now: datetime
) -> Identity:
    """The identity for this key, creating a new person for a first-time sender, unless a WhatsApp
    number is one a person already proved is theirs on another channel: then it is that person's."""
    identity = await find_identity(session, key)
    if identity is None:
        person = await proven_owner(session, channel, address) or Person(locale=locale, created_at=now,
                                                                          last_seen_at=now)
        identity = Identity(key=key, channel=channel, address=address, person=person, created_at=now)
        session.add(identity)
    if identity.address != address:
        identity.address = address
    if identity.unreachable_at is not None:
        identity.unreachable_at = None
    identity.last_inbound_at = now
    if now - identity.person.last_seen_at >= SEEN_PRECISION:
        identity.person.last_seen_at = now
    await session.flush()
    return identity


async def proven_owner(session: AsyncSession, channel: str, address: str) -> Person | None:
    """The person who proved this WhatsApp number theirs (by their own Telegram contact card)."""
    if channel != "whatsapp":
        return None
    statement = (
        select(Person).join(Identity, Identity.person_id == Person.id)
        .where(Identity.phone_hash == phone_digest(address)).order_by(Identity.id).limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def phone_digest(phone: str) -> str:
    """The hash a phone number is kept as (never the number itself), in E.164 first (`0812…` and
    `62812…` become `+62812…`): for invites bound to a number, and numbers proven by a contact card."""
    return hashlib.sha256((e164(phone) or phone).encode()).hexdigest()


PHONE_START = re.compile(r"^(?:\+62|62|0)[0-9]")


def e164(text: str) -> str | None:
    """`0812-3456-7890`, `62812…` or `+62 812…` as `+62812…`; None if it is not an Indonesian mobile number."""
    compact = re.sub(r"[\s().-]", "", text)
    if not PHONE_START.match(compact) or not compact.lstrip("+").isdigit():
        return None
    digits = compact.lstrip("+")
    national = digits[1:] if digits.startswith("0") else digits[2:]
    return f"+62{national}" if 8 <= len(national) <= 12 else None
