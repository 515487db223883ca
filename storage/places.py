"""Queries over Jakarta's places: the kota → kecamatan → kelurahan tree, name search, RWs."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import RW, Kecamatan, Kelurahan, Kota
from storage.upsert import insert_ignore

_PREFIXES = ("kota administrasi ", "kabupaten administrasi ")


def short_kota(name: str) -> str:
    """`Kota Administrasi Jakarta Pusat` → `Jakarta Pusat`."""
    lowered = name.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix) :]
    return name


async def all_kota(session: AsyncSession) -> list[Kota]:
    return list((await session.execute(select(Kota).order_by(Kota.code))).scalars())


async def kecamatan_of(session: AsyncSession, kota_code: str) -> list[Kecamatan]:
    statement = select(Kecamatan).where(Kecamatan.kota_code == kota_code).order_by(Kecamatan.name)
    return list((await session.execute(statement)).scalars())


async def kelurahan_of(session: AsyncSession, kecamatan_code: str) -> list[Kelurahan]:
    statement = select(Kelurahan).where(Kelurahan.kecamatan_code == kecamatan_code).order_by(Kelurahan.name)
    return list((await session.execute(statement)).scalars())


async def kelurahan(session: AsyncSession, code: str) -> Kelurahan | None:
    statement = (
        select(Kelurahan)
        .options(joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota))
        .where(Kelurahan.code == code)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def all_kelurahan(session: AsyncSession, kota_code: str | None = None) -> list[Kelurahan]:
    """Every kelurahan (of one kota), with its kecamatan and kota loaded."""
    statement = select(Kelurahan).options(joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota))
    if kota_code is not None:
        statement = statement.join(Kecamatan).where(Kecamatan.kota_code == kota_code)
    return list((await session.execute(statement.order_by(Kelurahan.name))).scalars())


async def get_or_create_rw(session: AsyncSession, kelurahan_code: str, number: int) -> RW:
    """The RW with this number in the kelurahan, created on first mention."""
    await session.execute(insert_ignore(session, RW, kelurahan_code=kelurahan_code, number=number))
    statement = (
        select(RW)
        .options(joinedload(RW.kelurahan).joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota))
        .where(RW.kelurahan_code == kelurahan_code, RW.number == number)
    )
    return (await session.execute(statement)).scalar_one()


async def rw(session: AsyncSession, rw_id: int) -> RW:
    statement = (
        select(RW)
        .options(joinedload(RW.kelurahan).joinedload(Kelurahan.kecamatan).joinedload(Kecamatan.kota))
        .where(RW.id == rw_id)
    )
    return (await session.execute(statement)).scalar_one()


EARTH_RADIUS_KM = 6371.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


async def nearest_kelurahan(session: AsyncSession, point: tuple[float, float]) -> tuple[Kelurahan, float]:
    """The kelurahan whose centroid is closest to the point, and how far that centroid is (km)."""
    found = await all_kelurahan(session)
    distances = [(distance_km(point, (k.lat, k.lon)), k) for k in found]
    distance, closest = min(distances, key=lambda pair: pair[0])
    return closest, distance
