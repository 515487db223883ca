"""Scheduled-item occurrences and heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Heartbeat, ScheduledOccurrence
from storage.upsert import insert_ignore


async def claim_occurrence(session: AsyncSession, kind: str, target: str, occurrence: str, now: datetime) -> bool:
    """True the first time this (kind, target, occurrence) is claimed, False ever after."""
    statement = insert_ignore(
        session,
        ScheduledOccurrence,
        returning=ScheduledOccurrence.id,
        kind=kind,
        target=target,
        occurrence=occurrence,
        created_at=now,
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def beat(session: AsyncSession, name: str, now: datetime) -> None:
    """Record that a duty is alive."""
    row = await session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, beat_at=now))
    else:
        row.beat_at = now


async def last_beat(session: AsyncSession, name: str) -> datetime | None:
    return (await session.execute(select(Heartbeat.beat_at).where(Heartbeat.name == name))).scalar_one_or_none()
