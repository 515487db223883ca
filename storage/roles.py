"""Who holds which role, over which RWs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import RoleGrant, RoleRW
from storage.models.roles import ADMIN, COORDINATOR


async def active_grants(session: AsyncSession, person_id: int) -> list[RoleGrant]:
    statement = (
        select(RoleGrant)
        .options(selectinload(RoleGrant.rws))
        .where(RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None))
        .order_by(RoleGrant.id)
    )
    return list((await session.execute(statement)).scalars())


async def roles_of(session: AsyncSession, person_id: int) -> frozenset[str]:
    statement = select(RoleGrant.role).where(RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None))
    return frozenset((await session.execute(statement)).scalars())


async def scope(session: AsyncSession, person_id: int, strand: str) -> set[int] | None:
    """The RW ids a person coordinates in a strand; None means every RW (an admin)."""
    grants = await active_grants(session, person_id)
    if any(grant.role == ADMIN for grant in grants):
        return None
    return {rw.rw_id for grant in grants if grant.role == COORDINATOR and grant.strand == strand for rw in grant.rws}


async def grant_role(
    session: AsyncSession,
    person_id: int,
    role: str,
    now: datetime,
    strand: str | None = None,
    rw_ids: Iterable[int] = (),
    granted_by: int | None = None,
) -> RoleGrant:
    grant = RoleGrant(
        person_id=person_id, role=role, strand=strand, granted_at=now, granted_by=granted_by,
        rws=[RoleRW(rw_id=rw_id) for rw_id in sorted(set(rw_ids))],
    )
    session.add(grant)
    await session.flush()
    return grant


async def revoke_role(session: AsyncSession, person_id: int, role: str, now: datetime) -> int:
    """Revoke every active grant of a role; returns how many."""
    result = await session.execute(
        update(RoleGrant)
        .where(RoleGrant.person_id == person_id, RoleGrant.role == role, RoleGrant.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


async def hand_over(
    session: AsyncSession, rw_id: int, strand: str, to_person: int, now: datetime, by: int | None = None
) -> None:
    """Move an RW from whoever coordinates it in the strand to another coordinator."""
    current = select(RoleGrant.id).where(
        RoleGrant.role == COORDINATOR, RoleGrant.strand == strand, RoleGrant.revoked_at.is_(None)
    )
    await session.execute(delete(RoleRW).where(RoleRW.rw_id == rw_id, RoleRW.grant_id.in_(current)))
    await grant_role(session, to_person, COORDINATOR, now, strand=strand, rw_ids=[rw_id], granted_by=by)


async def coordinators_of(session: AsyncSession, rw_id: int, strand: str) -> list[int]:
    """The people coordinating the RW in a strand (not admins), oldest grant first."""
    statement = (
        select(RoleGrant.person_id)
        .join(RoleRW, RoleRW.grant_id == RoleGrant.id)
        .where(RoleGrant.role == COORDINATOR, RoleGrant.strand == strand, RoleGrant.revoked_at.is_(None),
               RoleRW.rw_id == rw_id)
        .order_by(RoleGrant.id)
    )
    return list(dict.fromkeys((await session.execute(statement)).scalars()))
