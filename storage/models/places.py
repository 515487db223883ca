"""Jakarta's administrative places: kota, kecamatan, kelurahan (with centroids), and RWs."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId


class Kota(Base):
    __tablename__ = "kota"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # Kemendagri code, e.g. 31.71
    name: Mapped[str] = mapped_column(String(80))


class Kecamatan(Base):
    __tablename__ = "kecamatan"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)  # e.g. 31.71.01
    kota_code: Mapped[str] = mapped_column(ForeignKey("kota.code"), index=True)
    name: Mapped[str] = mapped_column(String(80))

    kota: Mapped[Kota] = relationship()


class Kelurahan(Base):
    __tablename__ = "kelurahan"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # e.g. 31.71.01.1001
    kecamatan_code: Mapped[str] = mapped_column(ForeignKey("kecamatan.code"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)

    kecamatan: Mapped[Kecamatan] = relationship()


class RW(Base):
    """One rukun warga, numbered within its kelurahan (RW 012 is number 12)."""

    __tablename__ = "rw"
    __table_args__ = (UniqueConstraint("kelurahan_code", "number", name="uq_rw_kelurahan_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kelurahan_code: Mapped[str] = mapped_column(ForeignKey("kelurahan.code"))
    number: Mapped[int] = mapped_column(Integer)

    kelurahan: Mapped[Kelurahan] = relationship()
