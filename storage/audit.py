"""The audit log: every coordinator and admin action, refused ones included."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry
from storage.pseudonym import person_pseudonym


async def audit(
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    outcome: str,
    now: datetime,
    target: str | None = None,
    **detail: object,
) -> None:
    """Record who (as a pseudonym; None is the command line) did what, to what, and how it ended."""
    session.add(
        AuditEntry(at=now, actor=person_pseudonym(actor_id), action=action, target=target, outcome=outcome, detail=detail)
    )
