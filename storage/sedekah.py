"""Where residents' savings can go (sedekah sampah): the shared offers that still take gifts, with
their RW and kelurahan, and the one of a resident's own RW. Availability is `storage.pledges`'s;
this module only lists it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import RW, Kelurahan, Offer, Package, Pledge, UpgradeRW
from storage.pledges import WORKS_DONE, OfferState, counting, offer_states


async def open_shared(session: AsyncSession, now: datetime, except_rw_id: int | None = None) -> list[OfferState]:
    """Every shared offer still short of its target in an RW whose works are not done, by kelurahan
    and RW number; each offer's RW and kelurahan are loaded."""
    held = (
        select(Pledge.offer_id, func.sum(Pledge.amount).label("held")).where(counting(now))
        .group_by(Pledge.offer_id).subquery()
    )
    pledged = func.coalesce(held.c.held, 0)
    statement = (
        select(Offer, pledged)
        .join(Package, Package.code == Offer.package_code)
        .join(UpgradeRW, UpgradeRW.rw_id == Offer.rw_id)
        .join(RW, RW.id == Offer.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .outerjoin(held, held.c.offer_id == Offer.id)
        .where(Package.shared.is_(True), UpgradeRW.works != WORKS_DONE, pledged < Offer.target)
        .order_by(Kelurahan.name, RW.number)
        .options(
            selectinload(Offer.package),
            selectinload(Offer.upgrade_rw).selectinload(UpgradeRW.rw).selectinload(RW.kelurahan),
        )
    )
    if except_rw_id is not None:
        statement = statement.where(Offer.rw_id != except_rw_id)
    return [OfferState(offer, int(amount), None) for offer, amount in (await session.execute(statement)).all()]


async def shared_state(session: AsyncSession, rw_id: int | None, now: datetime) -> OfferState | None:
    """The RW's shared offer as it stands now (open or not), or None when the RW has none."""
    if rw_id is None:
        return None
    return next((state for state in await offer_states(session, rw_id, now) if state.offer.package.shared), None)
