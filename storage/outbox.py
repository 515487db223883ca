"""The outbox: every outgoing message is a row here until it is sent or given up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import bindparam, delete, exists, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Identity, Outbox


class Priority(IntEnum):
    """Lower goes first: replies to people chatting, then notifications, then bulk."""

    REPLY = 0
    NOTIFY = 1
    BULK = 2


PENDING, SENT, FAILED, UNREACHABLE, EXPIRED = "pending", "sent", "failed", "unreachable", "expired"
NEEDS_TEMPLATE = "needs_template"  # WhatsApp's 24-hour window was closed and no template is configured

WHATSAPP_WINDOW = timedelta(hours=24)  # after this silence WhatsApp takes only approved templates

# What the bot starts, as opposed to replies: each kind may have its own WhatsApp template.
BROADCAST, REMINDER, NOTIFICATION = "broadcast", "reminder", "notification"


def new_row(
    *,
    channel: str,
    address: str,
    body: dict[str, Any],
    priority: Priority,
    now: datetime,
    person_id: int | None = None,
    lease_owner: str | None = None,
    lease_seconds: float = 0,
) -> Outbox:
    """A pending outbox row, optionally already leased to the process that will send it."""
    return Outbox(
        channel=channel,
        address=address,
        body=body,
        priority=int(priority),
        person_id=person_id,
        status=PENDING,
        attempts=0,
        not_before=now,
        created_at=now,
        lease_owner=lease_owner,
        lease_until=now + timedelta(seconds=lease_seconds) if lease_owner else None,
    )


async def claim(
    session: AsyncSession,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
    channels: Sequence[str] | None = None,
    address: str | None = None,
) -> list[Outbox]:
    """Lease up to `limit` due rows nobody holds (or whose lease ran out), replies first; never a row
    whose chat has a row to send before it still pending (held by a sender or not yet due), so any
    number of senders keep each chat's order."""
    ahead = aliased(Outbox)
    statement = (
        select(Outbox)
        .where(
            Outbox.status == PENDING,
            Outbox.not_before <= now,
            or_(Outbox.lease_until.is_(None), Outbox.lease_until < now),
            ~exists().where(
                ahead.channel == Outbox.channel,
                ahead.address == Outbox.address,
                ahead.status == PENDING,
                tuple_(ahead.priority, ahead.id) < tuple_(Outbox.priority, Outbox.id),
                or_(ahead.not_before > now, ahead.lease_until >= now),
            ),
        )
        .order_by(Outbox.priority, Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if channels is not None:
        statement = statement.where(Outbox.channel.in_(channels))
    if address is not None:
        statement = statement.where(Outbox.address == address)
    rows = list((await session.execute(statement)).scalars())
    for row in rows:
        row.lease_owner = owner
        row.lease_until = now + timedelta(seconds=lease_seconds)
    await session.flush()
    return rows


async def renew(session: AsyncSession, owner: str, ids: Sequence[int], until: datetime) -> None:
    """Extend this owner's lease on the rows it is still working on."""
    await session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids), Outbox.lease_owner == owner, Outbox.status == PENDING)
        .values(lease_until=until)
    )


async def finish(session: AsyncSession, owner: str, outcomes: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """Record the outcomes of sends on rows this owner holds, releasing their leases: one statement per
    kind of outcome (the columns it sets), executed for all its rows at once."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row_id, values in outcomes:
        by_columns[tuple(sorted(values))].append({"row": row_id, **{f"new_{k}": v for k, v in values.items()}})
    table = Outbox.__table__
    for columns, rows in by_columns.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row"), table.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **{name: bindparam(f"new_{name}") for name in columns})
        )
        await session.execute(statement, rows)


async def forget(session: AsyncSession, row_ids: Sequence[int]) -> None:
    """Delete sent rows whose bodies must not outlive their delivery."""
    await session.execute(delete(Outbox).where(Outbox.id.in_(row_ids)))


async def last_used_identity(session: AsyncSession, person_id: int) -> Identity | None:
    """The reachable identity the person wrote from last: where anything the bot starts goes."""
    statement = (
        select(Identity)
        .where(Identity.person_id == person_id, Identity.unreachable_at.is_(None))
        .order_by(Identity.last_inbound_at.desc(), Identity.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# WhatsApp delivery reports in the order they happen; a report never moves a row backwards.
DELIVERY_RANK = {"accepted": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3,
                 "read": 4}


async def record_delivery(session: AsyncSession, platform_message_id: str, status: str, error: str | None) -> bool:
    """Apply a platform's delivery report to the row it sent; False when the report is unknown, old or
    names no row of ours (a report for a message sent before its row was forgotten)."""
    rank = DELIVERY_RANK.get(status)
    if rank is None:
        return False
    statement = select(Outbox).where(Outbox.platform_message_id == platform_message_id).with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None or DELIVERY_RANK.get(row.delivery_status or "", -1) >= rank:
        return False
    row.delivery_status = status
    row.delivery_error = (error or None) if status in ("undelivered", "failed") else None
    return True
