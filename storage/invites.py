"""Invite codes: 128 random bits, stored hashed, single use, expiring, optionally bound to a phone
number, with a limit on failed attempts per person."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, Invite, InviteFailure
from storage.people import phone_digest
from storage.roles import grant_role

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=24)
GRANTED, INVALID, EXPIRED, USED, WRONG_PHONE, TOO_MANY = (
    "granted", "invalid", "expired", "used", "wrong_phone", "too_many_attempts",
)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()



async def create_invite(
    session: AsyncSession,
    role: str,
    now: datetime,
    strand: str | None = None,
    rw_ids: Sequence[int] = (),
    phone: str | None = None,
    created_by: int | None = None,
    valid_for: timedelta = timedelta(hours=72),
) -> str:
    """A new code (shown once, never stored in clear)."""
    code = secrets.token_urlsafe(16)  # 128 bits
    session.add(
        Invite(
            code_hash=digest(code), role=role, strand=strand, rw_ids={"rw": list(rw_ids)},
            phone_hash=phone_digest(phone) if phone else None, created_by=created_by,
            created_at=now, expires_at=now + valid_for,
        )
    )
    await session.flush()
    return code


async def redeem(session: AsyncSession, person_id: int, code: str, now: datetime) -> tuple[str, Invite | None]:
    """Grant the invite's role to the person, or say why not (every failure counts against them)."""
    recent = select(func.count()).where(InviteFailure.person_id == person_id, InviteFailure.at > now - FAILURE_WINDOW)
    if (await session.execute(recent)).scalar_one() >= MAX_FAILURES:
        return TOO_MANY, None
    statement = select(Invite).where(Invite.code_hash == digest(code.strip())).with_for_update()
    invite = (await session.execute(statement)).scalar_one_or_none()
    outcome = (
        INVALID if invite is None
        else USED if invite.used_at is not None
        else EXPIRED if invite.expires_at <= now
        else WRONG_PHONE if invite.phone_hash and invite.phone_hash not in await _phone_digests(session, person_id)
        else GRANTED
    )
    if outcome != GRANTED:
        session.add(InviteFailure(person_id=person_id, at=now))
        return outcome, invite
    assert invite is not None
    invite.used_at, invite.used_by = now, person_id
    await grant_role(
        session, person_id, invite.role, now, strand=invite.strand, rw_ids=invite.rw_ids.get("rw", []),
        granted_by=invite.created_by,
    )
    return GRANTED, invite


async def _phone_digests(session: AsyncSession, person_id: int) -> set[str]:
    """Hashes of the phone numbers the person's identities carry (WhatsApp identities are numbers)."""
    keys = (await session.execute(select(Identity.key).where(Identity.person_id == person_id))).scalars()
    return {phone_digest(key.split(":", 1)[1]) for key in keys if key.startswith("whatsapp:")}
