"""All tables, by domain."""

from storage.models.base import Base
from storage.models.broadcast import Broadcast
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
from storage.models.roles import AuditEntry, Invite, InviteFailure, RoleGrant, RoleRW
from storage.models.stats import MoverMonthly, ReporterCountMonthly, ReportersMonthly, VerifiedMonthly
from storage.models.upgrading import (
    Collaborator,
    Offer,
    Package,
    Pledge,
    PledgeEvent,
    ProgressUpdate,
    UpgradeRW,
)
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
    "Collaborator",
    "Offer",
    "Package",
    "Pledge",
    "PledgeEvent",
    "ProgressUpdate",
    "UpgradeRW",
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
    "MoverMonthly",
    "ReporterCountMonthly",
    "ReportersMonthly",
    "VerifiedMonthly",
]
