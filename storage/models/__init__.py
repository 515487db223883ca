"""All tables, by domain."""

from storage.models.base import Base
from storage.models.core import (
    Conversation,
    Heartbeat,
    Identity,
    InboundRecord,
    LimiterState,
    Outbox,
    Person,
    ScheduledOccurrence,
)

__all__ = [
    "Base",
    "Conversation",
    "Heartbeat",
    "Identity",
    "InboundRecord",
    "LimiterState",
    "Outbox",
    "Person",
    "ScheduledOccurrence",
]
