"""Conversation rows: where each person is, locked for the duration of one step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def lock_conversation(session: AsyncSession, person_id: int, now: datetime) -> Conversation:
    """The person's conversation row, locked until the transaction ends (created when missing)."""
    statement = select(Conversation).where(Conversation.person_id == person_id).with_for_update()
    conversation = (await session.execute(statement)).scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(person_id=person_id, state="", data={}, offered={}, updated_at=now)
        session.add(conversation)
        await session.flush()
    return conversation
