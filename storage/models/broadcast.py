"""Broadcasts: a message for a segment of people, delivered through the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import utcnow


class Broadcast(Base):
    """What a coordinator composed, for whom, when it goes out, and who approved it."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"kind": "rws"|"kelurahan"|"kota"|"all", ...}
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # see storage/broadcasts.py for the statuses
    send_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    recipients: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
