"""Broadcasts: segments of residents, recipient counts, one outbox row per person written by one
INSERT … SELECT, approval by a second admin, and delivery counts from the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    distinct,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import (
    RW,
    Broadcast,
    Collaborator,
    Identity,
    Kecamatan,
    Kelurahan,
    Offer,
    Outbox,
    Person,
    Pledge,
    RoleGrant,
)
from storage.models.roles import ADMIN
from storage.outbox import Priority
from storage.pledges import LIVE, PLEDGED
from storage.pledges import PLEDGE as PLEDGE_SOURCE
from storage.schedule import claim_occurrence
from storage.types import JSONType, UTCDateTime

MAX_TEXT = 4000
RWS, KELURAHAN, KOTA, ALL = "rws", "kelurahan", "kota", "all"  # residents
PLEDGERS, COLLABORATORS = "pledgers", "collaborators"  # collaborators who pledged to some RWs, or all of them
NEEDS_APPROVAL = frozenset({KOTA, ALL})
# Broadcast statuses (at most 16 characters).
AWAITING, SCHEDULED, SENDING, DONE, CANCELLED = "awaiting", "scheduled", "sending", "done", "cancelled"
OPTED_OUT = "opted_out"  # an outbox status: dropped because the person said BERHENTI before it went
OCCURRENCE_KIND = "broadcast"
WHATSAPP = "whatsapp"  # the channel where a closed 24-hour window needs a paid template
APPROVED, REJECTED, OWN, GONE = "approved", "rejected", "own", "gone"  # outcomes of a decision


def segment_rws(rw_ids: Sequence[int]) -> dict[str, Any]:
    return {"kind": RWS, "rws": sorted(set(rw_ids))}


def segment_place(kind: str, code: str) -> dict[str, Any]:
    return {"kind": kind, "code": code}


def segment_all() -> dict[str, Any]:
    return {"kind": ALL}


def segment_pledgers(rw_ids: Sequence[int]) -> dict[str, Any]:
    return {"kind": PLEDGERS, "rws": sorted(set(rw_ids))}


def segment_collaborators() -> dict[str, Any]:
    return {"kind": COLLABORATORS}


def _in_segment(segment: dict[str, Any]) -> ColumnElement[bool]:
    kind = segment["kind"]
    if kind == RWS:
        return Person.rw_id.in_(segment["rws"])
    if kind == KELURAHAN:
        return Person.rw_id.in_(select(RW.id).where(RW.kelurahan_code == segment["code"]))
    if kind == KOTA:
        places = select(RW.id).join(Kelurahan).join(Kecamatan).where(Kecamatan.kota_code == segment["code"])
        return Person.rw_id.in_(places)
    return Person.rw_id.is_not(None)


def _members(segment: dict[str, Any]) -> ColumnElement[bool]:
    """Who the segment names: registered residents (consented, named, placed in an RW) of some places,
    or consenting collaborators (all, or those with a live pledge or hold on some RWs)."""
    kind = segment["kind"]
    if kind == COLLABORATORS:
        return and_(Person.consent_at.is_not(None), Person.id.in_(select(Collaborator.person_id)))
    if kind == PLEDGERS:
        pledged = (
            select(Pledge.person_id).join(Offer, Offer.id == Pledge.offer_id)
            .where(Offer.rw_id.in_(segment["rws"]), Pledge.source == PLEDGE_SOURCE,
                   Pledge.status.in_((PLEDGED, *LIVE)))
        )
        return and_(Person.consent_at.is_not(None), Person.id.in_(pledged))
    return and_(Person.consent_at.is_not(None), Person.name.is_not(None), _in_segment(segment))


def _reachable(segment: dict[str, Any]) -> ColumnElement[bool]:
    return and_(_members(segment), Person.opted_out_at.is_(None), Identity.unreachable_at.is_(None))


def _recipients(segment: dict[str, Any]) -> Select[Any]:
    """(person, channel, address): each reachable, subscribed resident once, on the identity used last."""
    last_used = func.row_number().over(
        partition_by=Identity.person_id, order_by=(Identity.last_inbound_at.desc(), Identity.id.desc())
    )
    ranked = (
        select(Identity.person_id, Identity.channel, Identity.address, last_used.label("rank"))
        .join(Person, Person.id == Identity.person_id)
        .where(_reachable(segment))
        .subquery()
    )
    return select(ranked.c.person_id, ranked.c.channel, ranked.c.address).where(ranked.c.rank == 1)


@dataclass(frozen=True)
class TemplateTerms:
    """What reaching WhatsApp recipients outside the 24-hour window takes: whether broadcasts have an
    approved template, and the estimated price of one template message (Rupiah)."""

    template: bool = False
    price: int = 0


async def outside_window(session: AsyncSession, segment: dict[str, Any], now: datetime) -> int:
    """How many recipients would get the broadcast on WhatsApp outside its 24-hour window."""
    recipients = _recipients(segment).subquery()
    statement = (
        select(func.count())
        .select_from(recipients)
        .join(Identity, (Identity.person_id == recipients.c.person_id) & (Identity.address == recipients.c.address)
              & (Identity.channel == recipients.c.channel))
        .where(recipients.c.channel == WHATSAPP, Identity.last_inbound_at < now - outbox.WHATSAPP_WINDOW)
    )
    return int((await session.execute(statement)).scalar_one())


async def count_recipients(session: AsyncSession, segment: dict[str, Any]) -> int:
    """How many people a broadcast to the segment would reach (one per person)."""
    statement = (
        select(func.count(distinct(Identity.person_id)))
        .join(Person, Person.id == Identity.person_id)
        .where(_reachable(segment))
    )
    return int((await session.execute(statement)).scalar_one())


async def create(
    session: AsyncSession, created_by: int | None, segment: dict[str, Any], text: str, now: datetime,
    send_at: datetime | None = None,
) -> Broadcast:
    """A broadcast awaiting a second admin's approval (a whole kota or everyone) or scheduled."""
    status = AWAITING if segment["kind"] in NEEDS_APPROVAL else SCHEDULED
    broadcast = Broadcast(
        created_by=created_by, segment=segment, text=text, status=status, send_at=send_at or now, created_at=now
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def enqueue(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int | None:
    """Write one outbox row per recipient and mark the broadcast sending, once whatever happens
    (None when it was enqueued before); the number of rows."""
    if not await claim_occurrence(session, OCCURRENCE_KIND, str(broadcast.id), "send", now):
        return None
    body = {"text": broadcast.text, "kind": outbox.BROADCAST}
    rows = _recipients(broadcast.segment).add_columns(
        literal(int(Priority.BULK)),
        literal(body, JSONType),
        literal(outbox.PENDING),
        literal(0),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
        literal(broadcast.id),
    )
    columns = ["person_id", "channel", "address", "priority", "body", "status", "attempts", "not_before",
               "created_at", "broadcast_id"]
    await session.execute(insert(Outbox).from_select(columns, rows))
    written = select(func.count()).select_from(Outbox).where(Outbox.broadcast_id == broadcast.id)
    broadcast.status = SENDING
    broadcast.recipients = int((await session.execute(written)).scalar_one())
    return broadcast.recipients


async def get(session: AsyncSession, broadcast_id: int, lock: bool = False) -> Broadcast | None:
    statement = select(Broadcast).where(Broadcast.id == broadcast_id)
    return (await session.execute(statement.with_for_update() if lock else statement)).scalar_one_or_none()


async def due(session: AsyncSession, now: datetime) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come."""
    statement = select(Broadcast).where(Broadcast.status == SCHEDULED, Broadcast.send_at <= now).order_by(Broadcast.id)
    return list((await session.execute(statement)).scalars())


async def in_status(session: AsyncSession, status: str, exclude_creator: int | None = None) -> list[Broadcast]:
    statement = select(Broadcast).where(Broadcast.status == status).order_by(Broadcast.id)
    if exclude_creator is not None:
        statement = statement.where(Broadcast.created_by.is_distinct_from(exclude_creator))
    return list((await session.execute(statement)).scalars())


async def approve(session: AsyncSession, broadcast_id: int, approver: int, now: datetime) -> tuple[str, Broadcast | None]:
    """A second admin approves: scheduled (for now, if its time passed while it waited)."""
    broadcast = await get(session, broadcast_id, lock=True)
    if broadcast is None or broadcast.status != AWAITING:
        return GONE, broadcast
    if broadcast.created_by == approver:
        return OWN, broadcast
    broadcast.status, broadcast.approved_by = SCHEDULED, approver
    broadcast.send_at = max(broadcast.send_at, now)
    return APPROVED, broadcast


async def reject(session: AsyncSession, broadcast_id: int, by: int) -> tuple[str, Broadcast | None]:
    """Another admin declines: the broadcast is cancelled."""
    broadcast = await get(session, broadcast_id, lock=True)
    if broadcast is None or broadcast.status != AWAITING:
        return GONE, broadcast
    if broadcast.created_by == by:
        return OWN, broadcast
    broadcast.status = CANCELLED
    return REJECTED, broadcast


async def admins(session: AsyncSession, except_person: int | None = None) -> list[Person]:
    """People holding the admin role, but one."""
    holders = select(RoleGrant.person_id).where(RoleGrant.role == ADMIN, RoleGrant.revoked_at.is_(None))
    statement = select(Person).where(Person.id.in_(holders), Person.id.is_distinct_from(except_person))
    return list((await session.execute(statement.order_by(Person.id))).scalars())


@dataclass(frozen=True)
class Tally:
    """Where a broadcast's rows stand, and who in its segment opted out instead of receiving it."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    pending: int = 0
    opted_out: int = 0
    needs_template: int = 0

    @property
    def done(self) -> int:
        return self.total - self.pending


async def tally(session: AsyncSession, broadcast: Broadcast) -> Tally:
    """Counts by outbox status; opted out counts the segment's residents who said BERHENTI and did
    not get it (left out when it was enqueued, or dropped before it went)."""
    statement = select(Outbox.status, func.count()).where(Outbox.broadcast_id == broadcast.id).group_by(Outbox.status)
    counts: dict[str, int] = {status: int(n) for status, n in (await session.execute(statement)).all()}
    received = exists().where(
        Outbox.broadcast_id == broadcast.id, Outbox.person_id == Person.id, Outbox.status == outbox.SENT
    )
    opted_out = select(func.count(Person.id)).where(
        _members(broadcast.segment), Person.opted_out_at.is_not(None), ~received
    )
    return Tally(
        total=sum(counts.values()),
        sent=counts.get(outbox.SENT, 0),
        failed=counts.get(outbox.FAILED, 0),
        unreachable=counts.get(outbox.UNREACHABLE, 0),
        pending=counts.get(outbox.PENDING, 0),
        needs_template=counts.get(outbox.NEEDS_TEMPLATE, 0),
        opted_out=int((await session.execute(opted_out)).scalar_one()),
    )


async def drop_pending_bulk(session: AsyncSession, person_id: int) -> int:
    """Someone opted out: their broadcasts and reminders not yet sent are dropped (replies still go)."""
    result = await session.execute(
        update(Outbox)
        .where(Outbox.person_id == person_id, Outbox.status == outbox.PENDING, Outbox.priority == int(Priority.BULK))
        .values(status=OPTED_OUT)
    )
    return int(result.rowcount or 0)
