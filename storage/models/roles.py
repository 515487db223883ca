"""Roles and their scope, invite codes that grant them, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId
from storage.types import utcnow

RESIDENT, COLLABORATOR, COORDINATOR, ADMIN = "resident", "collaborator", "coordinator", "admin"
WASTE, UPGRADING = "waste", "upgrading"


class RoleGrant(Base):
    """A role a person holds; a coordinator's grant names a strand and the RWs it covers."""

    __tablename__ = "role_grant"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    strand: Mapped[str | None] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    rws: Mapped[list[RoleRW]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class RoleRW(Base):
    """One RW in a coordinator's scope."""

    __tablename__ = "role_rw"

    grant_id: Mapped[int] = mapped_column(ForeignKey("role_grant.id", ondelete="CASCADE"), primary_key=True)
    rw_id: Mapped[int] = mapped_column(ForeignKey("rw.id"), primary_key=True, index=True)


class Invite(Base):
    """A single-use, expiring code that grants a role; only its hash is stored."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    strand: Mapped[str | None] = mapped_column(String(16))
    rw_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"rw": [ids]}
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class InviteFailure(Base):
    """A wrong, expired or used code someone tried: limited per person."""

    __tablename__ = "invite_failure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what, when, and with what outcome; the actor is kept as a pseudonym."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(32))  # pseudonym, or "cli"
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
