"""Erasure of a person's data (UU 27/2022): what identifies them goes, anonymous totals stay."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, WasteReport


async def erase_person(session: AsyncSession, person_id: int) -> None:
    """Delete the person with their identities, conversation, inbound records, outbox rows and
    collaborator profile (by cascade); their reports lose photo and owner, their accounts, pledges,
    gifts and pledge events their owner, so totals, the ledger and what offers hold stay whole and
    anonymous."""
    await session.execute(update(WasteReport).where(WasteReport.person_id == person_id).values(photo=None))
    await session.execute(delete(Person).where(Person.id == person_id))
