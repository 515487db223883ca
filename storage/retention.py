"""Data retention: what is deleted when (DESIGN.md, "people and identities")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LimiterState, Person


async def purge_unconsented(session: AsyncSession, before: datetime) -> int:
    """Delete people who never consented and were last seen before the cut-off, with their
    identities, conversation, inbound records and outbox rows (by cascade)."""
    result = await session.execute(
        delete(Person).where(Person.consent_at.is_(None), Person.last_seen_at < before)
    )
    return result.rowcount or 0


async def purge_limiter_state(session: AsyncSession, before: datetime) -> int:
    """Forget per-chat limiter buckets nobody used since the cut-off."""
    result = await session.execute(delete(LimiterState).where(LimiterState.updated_at < before))
    return result.rowcount or 0
