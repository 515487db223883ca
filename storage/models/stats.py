"""Rollups behind coordinators' statistics, per Jakarta month (the first day of the month in
Asia/Jakarta): verified grams per RW and category, who reported in which RW, how many people
reported in each RW, and the few who reported in more than one RW. Database triggers on
waste_report and waste_report_item (and on the reporters rollup itself) keep them current with every
write (migration 0007), so a month's statistics for the whole city read a few thousand rows instead
of millions; storage/stats.py reads the rest of a range from the reports."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


class VerifiedMonthly(Base):
    """Verified grams (and how many items) of one category in one RW, in one month."""

    __tablename__ = "stats_verified_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    rw_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    category_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    grams: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[int] = mapped_column(Integer)  # the row goes when it reaches 0


class ReportersMonthly(Base):
    """How many reports (of any status) one person made in one RW in one month."""

    __tablename__ = "stats_reporters_monthly"
    __table_args__ = (  # a person's RWs in a month (movers), and distinct people over many RWs
        Index("ix_stats_reporters_monthly_person", "month", "person_id", postgresql_include=["rw_id"]),
    )

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    rw_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    reports: Mapped[int] = mapped_column(Integer)  # the row goes when it reaches 0


class ReporterCountMonthly(Base):
    """How many people reported in one RW in one month (the rows of ReportersMonthly there)."""

    __tablename__ = "stats_reporter_counts_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    rw_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    people: Mapped[int] = mapped_column(Integer)  # the row goes when it reaches 0


class MoverMonthly(Base):
    """Someone who reported in more than one RW in a month (moved house): counted once, not per RW."""

    __tablename__ = "stats_movers_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
