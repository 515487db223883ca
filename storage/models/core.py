"""The cross-cutting tables: people and their channel identities, conversations, inbound records,
the outbox, the limiter's state and scheduled-item occurrences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId
from storage.types import utcnow


class Person(Base):
    """Someone who talks to the bot; personal fields stay empty until they consent."""

    __tablename__ = "person"
    __table_args__ = (  # registered residents per RW, counted from the index alone (coordinators' statistics)
        Index("ix_person_registered", "rw_id", postgresql_where=text("consent_at IS NOT NULL"),
              sqlite_where=text("consent_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    locale: Mapped[str] = mapped_column(String(8))
    locale_chosen: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(120))
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None]
    rw_id: Mapped[int | None] = mapped_column(ForeignKey("rw.id"), index=True)
    reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    opted_out_at: Mapped[datetime | None]  # BERHENTI: no broadcasts or reminders (replies still go)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    identities: Mapped[list[Identity]] = relationship(back_populates="person", passive_deletes=True)


class Identity(Base):
    """One channel identity of a person: `telegram:<user id>`, `whatsapp:+62…`, `local:<name>`."""

    __tablename__ = "channel_identity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[datetime] = mapped_column(default=utcnow)
    unreachable_at: Mapped[datetime | None]
    # The hash of a phone number the person proved is theirs (their own Telegram contact card): a
    # WhatsApp identity appearing later with that number joins this person.
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    person: Mapped[Person] = relationship(back_populates="identities")


class Conversation(Base):
    """Where a person is in the conversation; the row every inbound message locks."""

    __tablename__ = "conversation"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    offered: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundRecord(Base):
    """One handled platform update, unique per channel, bot and platform message id (dedupe)."""

    __tablename__ = "inbound_record"
    __table_args__ = (UniqueConstraint("channel", "bot", "platform_id", name="uq_inbound_record_message"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    bot: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # handled | failed
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Outbox(Base):
    """One message to send: a reply, notification or bulk message, with its delivery state."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "id"),
        Index("ix_outbox_address", "channel", "address", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id"), index=True)
    platform_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16))  # the platform's last report (WhatsApp)
    delivery_error: Mapped[str | None] = mapped_column(String(16))  # its error code, when it failed
    template_sid: Mapped[str | None] = mapped_column(String(40))  # sent as this WhatsApp template


class LimiterState(Base):
    """Shared rate-limiter state for one key (a channel's global window, one chat's bucket)."""

    __tablename__ = "limiter_state"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ScheduledOccurrence(Base):
    """One scheduled item that was enqueued; unique per (kind, target, occurrence), so never twice."""

    __tablename__ = "scheduled_occurrence"
    __table_args__ = (UniqueConstraint("kind", "target", "occurrence", name="uq_scheduled_occurrence_item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Heartbeat(Base):
    """When a background duty (scheduler, sender) last showed it was alive."""

    __tablename__ = "heartbeat"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)
