"""Waste banks, their prices and members' accounts, the ledger, and residents' waste reports."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId
from storage.types import utcnow


class WasteCategory(Base):
    """A kind of sorted waste; its name is the catalog message `category.<code>`."""

    __tablename__ = "waste_category"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    group: Mapped[str] = mapped_column(String(32))  # catalog message `category_group.<group>`
    position: Mapped[int] = mapped_column(Integer)


class WasteBank(Base):
    """A waste-bank unit (bank sampah unit) serving one or more RWs."""

    __tablename__ = "waste_bank"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    weighing_weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday
    weighing_time: Mapped[time | None] = mapped_column(Time)
    weighing_minutes: Mapped[int] = mapped_column(Integer, default=120)
    next_member_number: Mapped[int] = mapped_column(Integer, default=1001)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rws: Mapped[list[WasteBankRW]] = relationship(back_populates="bank")


class WasteBankRW(Base):
    """Which bank serves an RW (at most one)."""

    __tablename__ = "waste_bank_rw"

    rw_id: Mapped[int] = mapped_column(ForeignKey("rw.id"), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("waste_bank.id", ondelete="CASCADE"), index=True)

    bank: Mapped[WasteBank] = relationship(back_populates="rws")


class Price(Base):
    """The buying price per kg of a category from a date on; bank_id None is the city default."""

    __tablename__ = "price"
    __table_args__ = (
        UniqueConstraint("bank_id", "category_code", "effective_from", name="uq_price_bank_category_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("waste_bank.id", ondelete="CASCADE"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_category.code"))
    rupiah_per_kg: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Account(Base):
    """A member's savings account at one bank; the bank issues the member number.
    The person link is cleared on erasure, keeping the anonymous balance and totals."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("bank_id", "member_number", name="uq_account_bank_member"),
        UniqueConstraint("person_id", "bank_id", name="uq_account_person_bank"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("waste_bank.id"))
    member_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    bank: Mapped[WasteBank] = relationship()


class LedgerEntry(Base):
    """One movement of an account's balance in Rupiah; corrections are reversing entries."""

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("waste_report.id"), index=True)
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawal.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id"), index=True)  # sedekah sampah
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WasteReport(Base):
    """Sorted waste: reported by a resident (awaiting weighing, then verified, rejected or settled by
    a weigh-in), or weighed in by a coordinator (a deposit, verified when recorded)."""

    __tablename__ = "waste_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    rw_id: Mapped[int] = mapped_column(ForeignKey("rw.id"), index=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("waste_bank.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="self", server_default="self")  # self | weighin
    status: Mapped[str] = mapped_column(String(16), default="reported")
    photo: Mapped[str | None] = mapped_column(String(200))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("waste_report.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(200))

    items: Mapped[list[WasteReportItem]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="WasteReportItem.id"
    )


class WasteReportItem(Base):
    """One category of a report, with its weight and the price used for the estimate."""

    __tablename__ = "waste_report_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("waste_report.id", ondelete="CASCADE"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("waste_category.code"))
    grams: Mapped[int] = mapped_column(Integer)
    rupiah_per_kg: Mapped[int] = mapped_column(Integer)

    report: Mapped[WasteReport] = relationship(back_populates="items")

    @property
    def estimate(self) -> int:
        """The value in whole Rupiah, rounded half up."""
        return (self.grams * self.rupiah_per_kg + 500) // 1000


class Withdrawal(Base):
    """A resident's request to take savings out: held at once, then paid or declined."""

    __tablename__ = "withdrawal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held | paid | declined
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
