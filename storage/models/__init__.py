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
from storage.models.broadcast import Broadcast
from storage.models.places import RW, Kecamatan, Kelurahan, Kota
from storage.models.roles import AuditEntry, Invite, InviteFailure, RoleGrant, RoleRW
from storage.models.waste import (
    Account,
    LedgerEntry,
    Price,
    WasteBank,
    WasteBankRW,
    WasteCategory,
    WasteReport,
    WasteReportItem,
    Withdrawal,
)

__all__ = [
    "RW",
    "Account",
    "AuditEntry",
    "Broadcast",
    "Invite",
    "InviteFailure",
    "RoleGrant",
    "RoleRW",
    "Withdrawal",
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
