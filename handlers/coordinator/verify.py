"""Verification (`Periksa laporan`, `/periksa`): residents' self-reports at the banks in scope, oldest
first, a few at a time. Approving (optionally with corrected weights) credits the report once at the
price in force on the report date; rejecting needs a reason. The resident is told either way."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

from handlers.coordinator import COORDINATOR_MENU, access
from handlers.coordinator.waste_access import (
    banks_in_scope,
    guarded_step,
    item_text,
    permit_bank,
)
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw
from handlers.dialog.notify import notify
from handlers.messages import Inbound, Kind
from handlers.report import (
    category_name,
    lines,
    read_weight,
)
from handlers.text.formatting import datetime_short, rupiah, weight
from handlers.text.i18n import N_, translate
from storage import banks, ledger
from storage import weighin as store
from storage.audit import audit
from storage.clock import today
from storage.models import Person, WasteBank, WasteReport

ACTION = "verify_report"
PAGE = 3

LIST_MORE = ("list:more", N_("verify.more"))
LIST_BACK = ("list:back", N_("report.back"))
REPORT_CHOICES = (
    ("report:approve", N_("verify.approve")),
    ("report:correct", N_("verify.correct")),
    ("report:reject", N_("verify.reject")),
    ("report:back", N_("verify.back_to_list")),
)
BACK = ("back", N_("report.back"))
REASONS = {
    "reason:unsorted": N_("verify.reason_unsorted"),
    "reason:not_brought": N_("verify.reason_not_brought"),
    "reason:duplicate": N_("verify.reason_duplicate"),
}
APPROVED_RECEIPT = N_("verify.approved_receipt")
REJECTED_NOTICE = N_("verify.rejected_notice")


class State(StrEnum):
    LIST = "verify.list"
    REPORT = "verify.report"
    ITEM = "verify.item"
    WEIGHT = "verify.weight"
    REASON = "verify.reason"


@dataclass
class Review(Draft):
    """Where the coordinator is in the queue, the report open, and corrected weights by item id."""

    KEY = "verify"
    offset: int = 0
    report: int = 0
    grams: dict[str, int] = field(default_factory=dict)  # by item id as text (JSON keys are text)
    item: int = 0  # the item whose weight is asked


def review(ctx: Context) -> Review:
    return ctx.draft(Review)


def corrections(ctx: Context) -> dict[int, int]:
    """Corrected grams by item id."""
    return {int(item): int(grams) for item, grams in review(ctx).grams.items()}


async def begin(ctx: Context) -> str:
    """From the coordinator menu: checks the role, then the queue."""
    return await command(ctx, "")


async def command(ctx: Context, _arg: str) -> str:
    """`/periksa`: the queue, or the menu when the person may not verify."""
    if not await access.permit(ctx, ACTION):
        return MENU
    ctx.begin(Review())
    return State.LIST


async def bank_ids(ctx: Context) -> list[int]:
    return [bank.id for bank in await banks_in_scope(ctx)]


async def ask_list(ctx: Context) -> None:
    """A page of the queue, oldest first; nothing waiting is said plainly."""
    offset = review(ctx).offset
    page, total = await store.queue(ctx.session, await bank_ids(ctx), offset, PAGE)
    if not page and offset:
        review(ctx).offset = offset = 0
        page, total = await store.queue(ctx.session, await bank_ids(ctx), offset, PAGE)
    if not page:
        ctx.say("verify.none", choices=[LIST_BACK])
        return
    locale = ctx.person.locale
    listed = "\n".join(
        ctx.t("verify.list_line", number=offset + n, name=p.name or "-", member=p.member or "-",
              date=datetime_short(p.report.reported_at, locale),
              items=", ".join(item_text(ctx, i.category_code, i.grams) for i in p.report.items))
        for n, p in enumerate(page, start=1)
    )
    choices = [(f"rep:{p.report.id}", Raw(f"{offset + n}. {p.name}")) for n, p in enumerate(page, start=1)]
    if offset + PAGE < total:
        choices.append(LIST_MORE)
    ctx.say("verify.list", total=total, reports=listed, choices=[*choices, LIST_BACK])


async def answer_list(ctx: Context, message: Inbound) -> str:
    """Opens a report, shows the next page, or goes back to the coordinator menu."""
    if message.choice == "list:back":
        ctx.drop(Review)
        return COORDINATOR_MENU
    if message.choice == "list:more":
        review(ctx).offset += PAGE
        return State.LIST
    review(ctx).report, review(ctx).grams = int((message.choice or "").removeprefix("rep:")), {}
    return State.REPORT


async def opened(ctx: Context) -> WasteReport:
    report = await store.report_with_items(ctx.session, review(ctx).report)
    assert report is not None
    return report


async def ask_report(ctx: Context) -> None:
    """Who, when, each item at the price in force on the report date (corrections marked), the total."""
    report = await opened(ctx)
    person = await ctx.session.get(Person, report.person_id) if report.person_id else None
    account = await store.account_at(ctx.session, report.person_id, report.bank_id) if person and report.bank_id else None
    prices = await banks.price_list(ctx.session, report.bank_id, today(report.reported_at))
    grams = corrections(ctx)
    shown, total = lines(ctx.person.locale, [
        (item.category_code, grams.get(item.id, item.grams), prices.get(item.category_code, 0)) for item in report.items
    ])
    fixed = "\n".join(
        ctx.t("verify.corrected_line", category=ctx.t(category_name(item.category_code)),
              reported=weight(item.grams, ctx.person.locale), corrected=weight(grams[item.id], ctx.person.locale))
        for item in report.items if item.id in grams
    )
    bank = await ctx.session.get(WasteBank, report.bank_id) if report.bank_id else None
    ctx.say("verify.detail", name=person.name if person else "-", member=account.member_number if account else "-",
            bank=bank.name if bank else "-", date=datetime_short(report.reported_at, ctx.person.locale),
            lines=shown, total=rupiah(total, ctx.person.locale))
    if fixed:
        ctx.say("verify.corrections", lines=fixed)
    ctx.say("verify.ask_decision", choices=REPORT_CHOICES)


async def answer_report(ctx: Context, message: Inbound) -> str:
    """Approve, correct a weight, reject with a reason, or back to the queue."""
    if message.choice == "report:approve":
        return await approve(ctx)
    if message.choice == "report:reject":
        return State.REASON
    if message.choice == "report:back":
        return State.LIST
    report = await opened(ctx)
    if len(report.items) == 1:
        review(ctx).item = report.items[0].id
        return State.WEIGHT
    return State.ITEM


async def ask_item(ctx: Context) -> None:
    report = await opened(ctx)
    choices = [(f"item:{i.id}", Raw(item_text(ctx, i.category_code, i.grams))) for i in report.items]
    ctx.say("verify.ask_item", choices=[*choices, BACK])


async def answer_item(ctx: Context, message: Inbound) -> str:
    if message.choice == "back":
        return State.REPORT
    review(ctx).item = int((message.choice or "").removeprefix("item:"))
    return State.WEIGHT


async def ask_weight(ctx: Context) -> None:
    report = await opened(ctx)
    item = next(i for i in report.items if i.id == review(ctx).item)
    ctx.say("verify.ask_weight", category=ctx.t(category_name(item.category_code)),
            reported=weight(item.grams, ctx.person.locale))


async def answer_weight(ctx: Context, message: Inbound) -> str | None:
    """Keeps the weighed grams for the item (saved only on approval); back to the report."""
    grams = read_weight(ctx, message.text)
    if grams is None:
        return None
    draft = review(ctx)
    draft.grams[str(draft.item)] = grams
    draft.item = 0
    return State.REPORT


async def decidable(ctx: Context) -> WasteReport | str:
    """The chosen report locked for a decision, or where to go when it can no longer be decided
    (someone else decided it, or it is outside the person's scope)."""
    report = await store.lock_pending(ctx.session, review(ctx).report)
    if report is None:
        ctx.say("verify.already_decided")
        return State.LIST
    assert report.bank_id is not None and report.person_id is not None
    if not await permit_bank(ctx, ACTION, report.bank_id, target=f"report:{report.id}"):
        ctx.drop(Review)
        return MENU
    return report


async def approve(ctx: Context) -> str:
    """Locks the report; if still pending and in scope, credits it once and tells the resident."""
    report = await decidable(ctx)
    if isinstance(report, str):
        return report
    assert report.bank_id is not None and report.person_id is not None
    grams = {item.id: g for item in report.items if (g := corrections(ctx).get(item.id)) is not None}
    originals = {str(item.id): [item.grams, grams[item.id]] for item in report.items if item.id in grams}
    prices = await banks.price_list(ctx.session, report.bank_id, today(report.reported_at))
    entry = await store.approve(ctx.session, report, grams=grams, prices=prices, by=ctx.person.id, now=ctx.now)
    saldo = await ledger.balance(ctx.session, entry.account_id)
    await audit(ctx.session, ctx.person.id, ACTION, "approved", ctx.now, target=f"report:{report.id}",
                amount=entry.amount, corrected=originals)
    person = await ctx.session.get(Person, report.person_id)
    bank = await ctx.session.get(WasteBank, report.bank_id)
    assert person is not None and bank is not None
    locale = person.locale
    shown, _ = lines(locale, [(i.category_code, i.grams, i.rupiah_per_kg) for i in report.items])
    await notify(ctx, person, APPROVED_RECEIPT, bank=bank.name, date=datetime_short(report.reported_at, locale),
                 lines=shown, amount=rupiah(entry.amount, locale), balance=rupiah(saldo, locale))
    ctx.say("verify.approved", name=person.name, amount=rupiah(entry.amount, ctx.person.locale))
    return done(ctx)


async def ask_reason(ctx: Context) -> None:
    ctx.say("verify.ask_reason", choices=[*REASONS.items(), BACK])


async def answer_reason(ctx: Context, message: Inbound) -> str | None:
    """A reason tapped or typed (2–200 characters) rejects the report; the resident is told why."""
    if message.choice == "back":
        return State.REPORT
    typed = " ".join(message.text.split()) if message.kind is Kind.TEXT else ""
    if message.choice not in REASONS and not 2 <= len(typed) <= 200:
        ctx.say("verify.reason_invalid")
        return None
    report = await decidable(ctx)
    if isinstance(report, str):
        return report
    assert report.person_id is not None
    person = await ctx.session.get(Person, report.person_id)
    assert person is not None
    reason = translate(person.locale, REASONS[message.choice]) if message.choice in REASONS else typed
    store.reject(report, reason, ctx.person.id, ctx.now)
    await audit(ctx.session, ctx.person.id, ACTION, "rejected", ctx.now, target=f"report:{report.id}", reason=reason)
    await notify(ctx, person, REJECTED_NOTICE, date=datetime_short(report.reported_at, person.locale), reason=reason)
    ctx.say("verify.rejected", name=person.name)
    return done(ctx)


def done(ctx: Context) -> str:
    """Back to the queue, where the decided report no longer shows."""
    ctx.begin(Review(offset=review(ctx).offset))
    return State.LIST


step = partial(guarded_step, ACTION, Review)


STEPS = {
    State.LIST: step(ask_list, answer_list, N_("verify.help_list")),
    State.REPORT: step(ask_report, answer_report, N_("verify.help_report")),
    State.ITEM: step(ask_item, answer_item, N_("verify.help_item")),
    State.WEIGHT: step(ask_weight, answer_weight, N_("verify.help_weight"), accepts=TEXT),
    State.REASON: step(ask_reason, answer_reason, N_("verify.help_reason"), accepts=TEXT),
}
