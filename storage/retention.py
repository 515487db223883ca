"""Data retention: what is deleted when (DESIGN.md, "people and identities")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.models import LimiterState, Person, RoleGrant
from storage.pseudonym import person_pseudonym


async def purge_unconsented(session: AsyncSession, before: datetime, now: datetime) -> int:
    """Delete people who never consented and were last seen before the cut-off, with their
    identities, conversation, inbound records and outbox rows (by cascade), each audited. Anyone
    holding a role is kept: a role is only ever given on purpose (an invite, `ksbb admin create`)."""
    roles = select(RoleGrant.person_id).where(RoleGrant.revoked_at.is_(None))
    doomed = (await session.execute(
        select(Person.id).where(Person.consent_at.is_(None), Person.last_seen_at < before, Person.id.not_in(roles))
    )).scalars().all()
    for person_id in doomed:
        await audit(session, None, "purge_unconsented", "deleted", now, target=person_pseudonym(person_id))
    if doomed:
        await session.execute(delete(Person).where(Person.id.in_(doomed)))
    return len(doomed)


async def purge_limiter_state(session: AsyncSession, before: datetime) -> int:
    """Forget per-chat limiter buckets nobody used since the cut-off."""
    result = await session.execute(delete(LimiterState).where(LimiterState.updated_at < before))
    return result.rowcount or 0
