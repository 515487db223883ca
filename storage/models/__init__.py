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
from storage.models.places import RW, Kecamatan, Kelurahan, Kota
from storage.models.waste import (
    Account,
    LedgerEntry,
    Price,
    WasteBank,
    WasteBankRW,
    WasteCategory,
    WasteReport,
    WasteReportItem,
)

__all__ = [
    "RW",
    "Account",
    "Kecamatan",
    "Kelurahan",
    "Kota",
    "LedgerEntry",
    "Price",
    "WasteBank",
    "WasteBankRW",
    "WasteCategory",
    "WasteReport",
    "WasteReportItem",
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
