"""Weigh-ins and the verification of residents' reports: the banks a coordinator serves, finding a
member, crediting at the price in force, settling self-reports, approving, rejecting, and reversing
a deposit with a reversing entry."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from storage.banks import ensure_account
from storage.ledger import balance
from storage.models import (
    Account,
    Identity,
    LedgerEntry,
    Person,
    WasteBank,
    WasteBankRW,
    WasteReport,
    WasteReportItem,
)
from storage.reference import rows
from storage.reports import REJECTED, REPORTED, REVERSED, SETTLED, VERIFIED

SELF, WEIGHIN = "self", "weighin"
DEPOSIT, REVERSAL = "deposit", "reversal"


class Stale(Exception):
    """A report chosen to be settled is no longer awaiting weighing."""


class BalanceTooLow(Exception):
    """Reversing the deposit would take the balance below zero."""


@dataclass(frozen=True)
class Pending:
    """A self-report in the verification queue, with who sent it and their member number."""

    report: WasteReport
    name: str | None
    member: int | None


@dataclass(frozen=True)
class Deposit:
    """A credited deposit that can still be reversed."""

    entry: LedgerEntry
    report: WasteReport
    account: Account
    name: str | None


@lru_cache(maxsize=1)
def category_aliases() -> dict[str, str]:
    """Typed word → category code, from the seed file's `aliases` column (each code names itself)."""
    words: dict[str, str] = {}
    for row in rows("waste_categories.csv"):
        for word in [row["code"], *row.get("aliases", "").split()]:
            words[word.lower()] = row["code"]
    return words


def value(items: Sequence[WasteReportItem]) -> int:
    """The Rupiah value of items, each rounded half up as the resident was shown."""
    return sum(item.estimate for item in items)


async def banks_serving(session: AsyncSession, rw_ids: Collection[int] | None) -> list[WasteBank]:
    """The banks serving at least one of the RWs (every bank for None), by name."""
    statement = select(WasteBank).order_by(WasteBank.name, WasteBank.id)
    if rw_ids is not None:
        served = select(WasteBankRW.bank_id).where(WasteBankRW.rw_id.in_(list(rw_ids)))
        statement = statement.where(WasteBank.id.in_(served))
    return list((await session.execute(statement)).scalars())


async def bank_rw_ids(session: AsyncSession, bank_id: int) -> list[int]:
    statement = select(WasteBankRW.rw_id).where(WasteBankRW.bank_id == bank_id).order_by(WasteBankRW.rw_id)
    return list((await session.execute(statement)).scalars())


async def account_by_member(session: AsyncSession, bank_id: int, member: int) -> Account | None:
    """The account with this member number at the bank, if it still belongs to someone."""
    statement = select(Account).where(
        Account.bank_id == bank_id, Account.member_number == member, Account.person_id.is_not(None)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def account_at(session: AsyncSession, person_id: int, bank_id: int) -> Account | None:
    statement = select(Account).where(Account.person_id == person_id, Account.bank_id == bank_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def person_by_phone(session: AsyncSession, e164: str) -> Person | None:
    """The consented person whose WhatsApp identity is this number (`+62…`)."""
    statement = (
        select(Person)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.key == f"whatsapp:{e164}", Person.consent_at.is_not(None))
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def pending_reports(session: AsyncSession, person_id: int, bank_id: int, limit: int) -> list[WasteReport]:
    """The person's self-reports at the bank still awaiting weighing, newest first."""
    statement = (
        select(WasteReport)
        .options(selectinload(WasteReport.items))
        .where(
            WasteReport.person_id == person_id,
            WasteReport.bank_id == bank_id,
            WasteReport.source == SELF,
            WasteReport.status == REPORTED,
        )
        .order_by(WasteReport.reported_at.desc(), WasteReport.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def record_weighin(
    session: AsyncSession,
    *,
    account: Account,
    rw_id: int,
    items: Sequence[tuple[str, int]],
    prices: Mapping[str, int],
    settle: Sequence[int],
    by: int,
    now: datetime,
) -> tuple[WasteReport, LedgerEntry]:
    """A verified weigh-in credited to the account; the chosen self-reports become settled by it
    (never credited). Raises Stale when one of them was decided meanwhile."""
    settled: list[WasteReport] = []
    if settle:
        statement = (
            select(WasteReport)
            .where(
                WasteReport.id.in_(list(settle)),
                WasteReport.person_id == account.person_id,
                WasteReport.bank_id == account.bank_id,
                WasteReport.source == SELF,
                WasteReport.status == REPORTED,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        settled = list((await session.execute(statement)).scalars())
        if len(settled) != len(set(settle)):
            raise Stale
    report = WasteReport(
        person_id=account.person_id, rw_id=rw_id, bank_id=account.bank_id, source=WEIGHIN, status=VERIFIED,
        reported_at=now, decided_at=now, decided_by=by,
        items=[WasteReportItem(category_code=code, grams=grams, rupiah_per_kg=prices.get(code, 0)) for code, grams in items],
    )
    session.add(report)
    await session.flush()
    for self_report in settled:
        self_report.status, self_report.settled_by_id = SETTLED, report.id
        self_report.decided_at, self_report.decided_by = now, by
    entry = LedgerEntry(account_id=account.id, amount=value(report.items), kind=DEPOSIT, report_id=report.id, created_at=now)
    session.add(entry)
    await session.flush()
    return report, entry


async def queue(session: AsyncSession, bank_ids: Collection[int], offset: int, limit: int) -> tuple[list[Pending], int]:
    """Self-reports awaiting verification at the banks, oldest first, one page, and how many in all."""
    where = (
        WasteReport.bank_id.in_(list(bank_ids)),
        WasteReport.source == SELF,
        WasteReport.status == REPORTED,
        WasteReport.person_id.is_not(None),
    )
    total = int((await session.execute(select(func.count(WasteReport.id)).where(*where))).scalar_one())
    statement = (
        select(WasteReport, Person.name, Account.member_number)
        .options(selectinload(WasteReport.items))
        .join(Person, Person.id == WasteReport.person_id)
        .outerjoin(Account, (Account.person_id == WasteReport.person_id) & (Account.bank_id == WasteReport.bank_id))
        .where(*where)
        .order_by(WasteReport.reported_at, WasteReport.id)
        .offset(offset)
        .limit(limit)
    )
    return [Pending(report, name, member) for report, name, member in (await session.execute(statement)).all()], total


async def report_with_items(session: AsyncSession, report_id: int) -> WasteReport | None:
    statement = select(WasteReport).options(selectinload(WasteReport.items)).where(WasteReport.id == report_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_pending(session: AsyncSession, report_id: int) -> WasteReport | None:
    """The self-report, locked, if it still awaits a decision; None once decided (or gone)."""
    statement = (
        select(WasteReport)
        .where(WasteReport.id == report_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    report = (await session.execute(statement)).scalar_one_or_none()
    if report is None or report.source != SELF or report.status != REPORTED or report.person_id is None:
        return None
    await session.refresh(report, ["items"])
    return report


async def approve(
    session: AsyncSession,
    report: WasteReport,
    *,
    grams: Mapping[int, int],
    prices: Mapping[str, int],
    by: int,
    now: datetime,
) -> LedgerEntry:
    """Verify a locked self-report, with any corrected weights, at the given prices; credit it once."""
    assert report.person_id is not None and report.bank_id is not None
    for item in report.items:
        item.grams = grams.get(item.id, item.grams)
        item.rupiah_per_kg = prices.get(item.category_code, 0)
    account = await ensure_account(session, report.person_id, report.bank_id)
    report.status, report.decided_at, report.decided_by = VERIFIED, now, by
    entry = LedgerEntry(account_id=account.id, amount=value(report.items), kind=DEPOSIT, report_id=report.id, created_at=now)
    session.add(entry)
    await session.flush()
    return entry


def reject(report: WasteReport, reason: str, by: int, now: datetime) -> None:
    """Refuse a locked self-report with a reason; nothing is credited."""
    report.status, report.reject_reason = REJECTED, reason[:200]
    report.decided_at, report.decided_by = now, by


_REVERSAL = aliased(LedgerEntry)
_NOT_REVERSED = ~exists().where(_REVERSAL.reverses_id == LedgerEntry.id)


async def recent_deposits(session: AsyncSession, bank_id: int, limit: int) -> list[Deposit]:
    """The bank's latest deposits that have not been reversed, newest first."""
    statement = (
        select(LedgerEntry, WasteReport, Account, Person.name)
        .join(WasteReport, WasteReport.id == LedgerEntry.report_id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .outerjoin(Person, Person.id == Account.person_id)
        .where(LedgerEntry.kind == DEPOSIT, Account.bank_id == bank_id, _NOT_REVERSED)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return [Deposit(*row) for row in (await session.execute(statement)).all()]


async def deposit(session: AsyncSession, entry_id: int) -> Deposit | None:
    """One deposit with its report and account, whether reversed or not."""
    statement = (
        select(LedgerEntry, WasteReport, Account, Person.name)
        .join(WasteReport, WasteReport.id == LedgerEntry.report_id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .outerjoin(Person, Person.id == Account.person_id)
        .where(LedgerEntry.id == entry_id, LedgerEntry.kind == DEPOSIT)
    )
    row = (await session.execute(statement)).one_or_none()
    return Deposit(*row) if row else None


async def reverse(session: AsyncSession, entry_id: int, now: datetime) -> LedgerEntry | None:
    """A reversing entry for a deposit (None if it was reversed already). A reversed weigh-in frees
    the self-reports it settled; a reversed approval puts the report back in the queue. Raises
    BalanceTooLow rather than take the balance below zero."""
    locked = select(LedgerEntry).where(LedgerEntry.id == entry_id, LedgerEntry.kind == DEPOSIT).with_for_update()
    entry = (await session.execute(locked.execution_options(populate_existing=True))).scalar_one_or_none()
    done = select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)
    if entry is None or (await session.execute(done)).first() is not None:
        return None
    await session.execute(select(Account.id).where(Account.id == entry.account_id).with_for_update())
    if await balance(session, entry.account_id) < entry.amount:
        raise BalanceTooLow
    reversal = LedgerEntry(
        account_id=entry.account_id, amount=-entry.amount, kind=REVERSAL, report_id=entry.report_id,
        reverses_id=entry.id, created_at=now,
    )
    session.add(reversal)
    report = await session.get(WasteReport, entry.report_id, with_for_update=True, populate_existing=True)
    if report is not None and report.source == WEIGHIN:
        report.status = REVERSED
        settled = select(WasteReport).where(WasteReport.settled_by_id == report.id, WasteReport.status == SETTLED)
        for self_report in (await session.execute(settled)).scalars():
            self_report.status, self_report.settled_by_id = REPORTED, None
            self_report.decided_at = self_report.decided_by = None
    elif report is not None:
        report.status, report.decided_at, report.decided_by = REPORTED, None, None
    await session.flush()
    return reversal
