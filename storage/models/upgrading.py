"""Settlement upgrading (KSBB Penataan Permukiman): package types, target RWs and their offers,
collaborators, pledges with their history, and progress updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId
from storage.models.places import RW
from storage.types import utcnow

Rupiah = BigInteger  # package targets run into the billions


class Package(Base):
    """A package type (Utama, Lengkap, Bersama): its cost range and work items (`work.<code>` messages)."""

    __tablename__ = "upgrade_package"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(80))
    description_id: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    cost_min: Mapped[int] = mapped_column(Rupiah)
    cost_max: Mapped[int] = mapped_column(Rupiah)
    work_items: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [codes]}
    shared: Mapped[bool] = mapped_column(Boolean)  # Bersama: shared by many; others are taken whole
    alternative: Mapped[bool] = mapped_column(Boolean)  # Utama/Lengkap: one of them per RW


class UpgradeRW(Base):
    """An RW chosen for upgrading, as the catalog describes it; `works` is set by its coordinators."""

    __tablename__ = "upgrade_rw"

    rw_id: Mapped[int] = mapped_column(ForeignKey("rw.id"), primary_key=True)
    families: Mapped[int | None] = mapped_column(Integer)  # KK
    population: Mapped[int | None] = mapped_column(Integer)
    needs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [work item codes]}
    contact: Mapped[str | None] = mapped_column(String(120))  # ketua RW or contact person
    payment: Mapped[str | None] = mapped_column(Text)  # where the funds go (aggregator or account)
    year: Mapped[int | None] = mapped_column(Integer)
    works: Mapped[str] = mapped_column(String(16), default="planned")  # planned | in_progress | done
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    rw: Mapped[RW] = relationship()
    offers: Mapped[list[Offer]] = relationship(back_populates="upgrade_rw", order_by="Offer.id")


class Offer(Base):
    """One RW × one package, with its target amount."""

    __tablename__ = "upgrade_offer"
    __table_args__ = (UniqueConstraint("rw_id", "package_code", name="uq_upgrade_offer_rw_package"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rw_id: Mapped[int] = mapped_column(ForeignKey("upgrade_rw.rw_id"), index=True)
    package_code: Mapped[str] = mapped_column(ForeignKey("upgrade_package.code"))
    target: Mapped[int] = mapped_column(Rupiah)
    assumed: Mapped[bool] = mapped_column(Boolean, default=False)  # the amount is an assumption (sample)

    upgrade_rw: Mapped[UpgradeRW] = relationship(back_populates="offers")
    package: Mapped[Package] = relationship()


class Collaborator(Base):
    """A person's collaborator profile (a person may also be a resident)."""

    __tablename__ = "collaborator"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # individual | company | foundation | aggregator
    organisation: Mapped[str | None] = mapped_column(String(120))
    contact_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(120))
    public: Mapped[bool] = mapped_column(Boolean, default=False)  # the name may be shown on the RW
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pledge(Base):
    """A collaborator's pledge to an offer, or a resident's gift of savings (sedekah sampah)."""

    __tablename__ = "pledge"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("upgrade_offer.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # pledge | sedekah
    giver_rw_id: Mapped[int | None] = mapped_column(ForeignKey("rw.id"))  # sedekah: the giver's RW
    amount: Mapped[int] = mapped_column(Rupiah)
    status: Mapped[str] = mapped_column(String(16), index=True)
    expires_at: Mapped[datetime | None]  # a pledge's hold lapses then unless confirmed
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    offer: Mapped[Offer] = relationship()


class PledgeEvent(Base):
    """One change of a pledge's status: who, when, why."""

    __tablename__ = "pledge_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledge.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(200))


class ProgressUpdate(Base):
    """News of an RW's works posted by a coordinator, sent to everyone who pledged to it."""

    __tablename__ = "upgrade_update"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rw_id: Mapped[int] = mapped_column(ForeignKey("upgrade_rw.rw_id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(200))
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
