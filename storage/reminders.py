"""Who is owed a reminder: residents before their bank's weighing, coordinators their weekly digest
(each at most once per occurrence, see storage.schedule.claim_occurrence), and the digest's figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import ColumnElement, String, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    RW,
    Identity,
    Kelurahan,
    Person,
    RoleGrant,
    RoleRW,
    ScheduledOccurrence,
    WasteBank,
    WasteBankRW,
    WasteReport,
)
from storage.models.roles import COORDINATOR, WASTE
from storage.reports import REPORTED

WEIGHING, DIGEST = "weighing_reminder", "digest"


def person_target(person_id: int) -> str:
    """How a person is named as the target of a scheduled item."""
    return f"person:{person_id}"


def _not_yet_sent(kind: str, occurrence: str) -> ColumnElement[bool]:
    target = literal("person:", String) + cast(Person.id, String)
    return ~exists().where(
        ScheduledOccurrence.kind == kind,
        ScheduledOccurrence.target == target,
        ScheduledOccurrence.occurrence == occurrence,
    )


def _reachable() -> ColumnElement[bool]:
    return exists().where(Identity.person_id == Person.id, Identity.unreachable_at.is_(None))


async def scheduled_banks(session: AsyncSession) -> list[WasteBank]:
    """Banks with a weekly weighing schedule."""
    statement = select(WasteBank).where(WasteBank.weighing_weekday.is_not(None), WasteBank.weighing_time.is_not(None))
    return list((await session.execute(statement.order_by(WasteBank.id))).scalars())


async def residents_to_remind(session: AsyncSession, bank_id: int, occurrence: str, limit: int) -> list[Person]:
    """Consented residents of the RWs the bank serves who keep reminders on, have not opted out, can
    be reached, and have not had this occurrence's reminder."""
    statement = (
        select(Person)
        .join(WasteBankRW, WasteBankRW.rw_id == Person.rw_id)
        .where(
            WasteBankRW.bank_id == bank_id,
            Person.consent_at.is_not(None),
            Person.reminders.is_(True),
            Person.opted_out_at.is_(None),
            _reachable(),
            _not_yet_sent(WEIGHING, occurrence),
        )
        .order_by(Person.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def coordinators_to_brief(session: AsyncSession, occurrence: str, limit: int) -> list[tuple[Person, set[int]]]:
    """Waste coordinators with RWs, not opted out and reachable, who have not had this week's digest,
    each with the RWs they coordinate."""
    coordinating = (
        select(RoleGrant.person_id)
        .join(RoleRW, RoleRW.grant_id == RoleGrant.id)
        .where(RoleGrant.role == COORDINATOR, RoleGrant.strand == WASTE, RoleGrant.revoked_at.is_(None))
    )
    statement = (
        select(Person)
        .where(
            Person.id.in_(coordinating),
            Person.consent_at.is_not(None),
            Person.opted_out_at.is_(None),
            _reachable(),
            _not_yet_sent(DIGEST, occurrence),
        )
        .order_by(Person.id)
        .limit(limit)
    )
    people = list((await session.execute(statement)).scalars())
    rws = await coordinated_rws(session, [person.id for person in people])
    return [(person, rws[person.id]) for person in people]


async def coordinated_rws(session: AsyncSession, person_ids: Collection[int]) -> dict[int, set[int]]:
    """The RWs each person coordinates in the waste strand (admin rights aside)."""
    statement = (
        select(RoleGrant.person_id, RoleRW.rw_id)
        .join(RoleRW, RoleRW.grant_id == RoleGrant.id)
        .where(
            RoleGrant.person_id.in_(list(person_ids)),
            RoleGrant.role == COORDINATOR,
            RoleGrant.strand == WASTE,
            RoleGrant.revoked_at.is_(None),
        )
    )
    found: dict[int, set[int]] = defaultdict(set)
    for person_id, rw_id in (await session.execute(statement)).all():
        found[person_id].add(rw_id)
    return found


async def pending_reports(session: AsyncSession, rw_ids: Collection[int]) -> int:
    """Residents' reports in the RWs still awaiting weighing or a decision."""
    statement = select(func.count()).select_from(WasteReport).where(
        WasteReport.rw_id.in_(list(rw_ids)), WasteReport.status == REPORTED
    )
    return int((await session.execute(statement)).scalar_one())


async def rw_names(session: AsyncSession, rw_ids: Collection[int]) -> list[tuple[str, int]]:
    """(kelurahan name, RW number) of the RWs, in order."""
    statement = (
        select(Kelurahan.name, RW.number)
        .join(RW, RW.kelurahan_code == Kelurahan.code)
        .where(RW.id.in_(list(rw_ids)))
        .order_by(Kelurahan.name, RW.number)
    )
    return [(name, int(number)) for name, number in (await session.execute(statement)).all()]
