"""Reading the upgrading catalog as a collaborator browses it: kota with target RWs, each RW's status
and needs, and one RW in full (offers with what they hold, supporters). What an offer holds and
whether it is open come from `storage.pledges`; many RWs are summarised with one query for the
holdings of all their offers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from storage import pledges
from storage.models import RW, Kecamatan, Kelurahan, Kota, Offer, Package, UpgradeRW
from storage.places import short_kota
from storage.pledges import OfferState, Supporter


@dataclass(frozen=True)
class KotaCount:
    code: str
    name: str  # short: `Jakarta Pusat`
    rws: int


@dataclass(frozen=True)
class Summary:
    """One target RW as a list shows it."""

    rw_id: int
    number: int
    kelurahan: str
    kecamatan: str
    kota: str  # short
    status: str  # pledges.rw_status: open, partly_funded, funded, in_progress, done
    needs: list[str]  # work item codes
    is_sample: bool


@dataclass(frozen=True)
class Detail:
    """One target RW in full: the listing (with its place loaded), its offers' states, its supporters."""

    listing: UpgradeRW
    states: list[OfferState]
    status: str
    supporters: list[Supporter]

    @property
    def summary(self) -> Summary:
        return summarise(self.listing, self.states)


def needs_of(listing: UpgradeRW) -> list[str]:
    return [str(code) for code in (listing.needs or {}).get("items", [])]


def summarise(listing: UpgradeRW, states: Sequence[OfferState]) -> Summary:
    kelurahan = listing.rw.kelurahan
    return Summary(
        rw_id=listing.rw_id, number=listing.rw.number, kelurahan=kelurahan.name, kecamatan=kelurahan.kecamatan.name,
        kota=short_kota(kelurahan.kecamatan.kota.name), status=pledges.rw_status(listing, states),
        needs=needs_of(listing), is_sample=listing.is_sample,
    )


def _listings() -> Select[tuple[UpgradeRW]]:
    """Target RWs with their place and their offers' packages loaded, by kelurahan name then RW number."""
    return (
        select(UpgradeRW)
        .join(RW, RW.id == UpgradeRW.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .join(Kecamatan, Kecamatan.code == Kelurahan.kecamatan_code)
        .options(
            joinedload(UpgradeRW.rw).joinedload(RW.kelurahan).joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota),
            selectinload(UpgradeRW.offers).selectinload(Offer.package),
        )
        .order_by(Kelurahan.name, RW.number)
        .execution_options(populate_existing=True)
    )


async def kota_counts(session: AsyncSession) -> list[KotaCount]:
    """Kota that have target RWs, with how many, in code order."""
    statement = (
        select(Kota.code, Kota.name, func.count(UpgradeRW.rw_id))
        .join(Kecamatan, Kecamatan.kota_code == Kota.code)
        .join(Kelurahan, Kelurahan.kecamatan_code == Kecamatan.code)
        .join(RW, RW.kelurahan_code == Kelurahan.code)
        .join(UpgradeRW, UpgradeRW.rw_id == RW.id)
        .group_by(Kota.code, Kota.name)
        .order_by(Kota.code)
    )
    return [KotaCount(code, short_kota(name), int(n)) for code, name, n in (await session.execute(statement)).all()]


async def summaries(
    session: AsyncSession, now: datetime, *, kota_code: str | None = None, kelurahan_codes: Sequence[str] | None = None
) -> list[Summary]:
    """Target RWs (of a kota, or of some kelurahan) with their status at `now`."""
    statement = _listings()
    if kota_code is not None:
        statement = statement.where(Kecamatan.kota_code == kota_code)
    if kelurahan_codes is not None:
        statement = statement.where(Kelurahan.code.in_(list(kelurahan_codes)))
    listings = list((await session.execute(statement)).scalars().unique())
    held = await pledges.held_by_offer(session, [o.id for listing in listings for o in listing.offers], now)
    return [summarise(listing, pledges.states(listing, held)) for listing in listings]


async def detail(session: AsyncSession, rw_id: int, now: datetime) -> Detail | None:
    """The RW in full at `now`, or None when it is not (or no longer) a target."""
    listing = (await session.execute(_listings().where(UpgradeRW.rw_id == rw_id))).scalars().unique().one_or_none()
    if listing is None:
        return None
    states = pledges.states(listing, await pledges.held_by_offer(session, [o.id for o in listing.offers], now))
    return Detail(listing, states, pledges.rw_status(listing, states), await pledges.supporters(session, rw_id, now))


async def packages(session: AsyncSession) -> list[Package]:
    """The package types, in their order."""
    return list((await session.execute(select(Package).order_by(Package.position))).scalars())


async def rw_labels(session: AsyncSession, rw_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(RW number, kelurahan name) of each RW id: how residents' gifts are credited to their RW."""
    statement = (
        select(RW.id, RW.number, Kelurahan.name).join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .where(RW.id.in_(list(rw_ids)))
    )
    return {rw_id: (number, name) for rw_id, number, name in (await session.execute(statement)).all()}
