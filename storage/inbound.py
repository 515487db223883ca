"""Inbound records: one row per handled platform update, so a redelivery is handled once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundRecord
from storage.upsert import insert_ignore


async def record_inbound(
    session: AsyncSession, channel: str, bot: str, platform_id: str, status: str, now: datetime,
    person_id: int | None = None,
) -> bool:
    """Insert the record (with its person, so erasure and the retention purge find it); False when this
    update was already recorded (a duplicate)."""
    statement = insert_ignore(
        session,
        InboundRecord,
        returning=InboundRecord.id,
        channel=channel,
        bot=bot,
        platform_id=platform_id,
        status=status,
        received_at=now,
        person_id=person_id,
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def purge_inbound(session: AsyncSession, before: datetime) -> int:
    """Delete inbound records received before the cut-off; returns how many."""
    result = await session.execute(delete(InboundRecord).where(InboundRecord.received_at < before))
    return result.rowcount or 0
