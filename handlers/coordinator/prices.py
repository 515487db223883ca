"""Setting a bank's price per kg for a category from a date on (today or later); earlier prices stay
in force for the days they covered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from handlers.coordinator import COORDINATOR_MENU
from handlers.coordinator.banks import ChosenBank, choose_bank, chosen_bank, refuse
from handlers.coordinator.waste_access import permit_bank
from handlers.dialog.machine import TEXT, Context, Draft, Step
from handlers.dialog.parsing import IN_THE_PAST, NEGATIVE, TOO_MUCH, ZERO, ParseError, parse_amount, parse_date
from handlers.messages import Inbound, Kind
from handlers.text.formatting import date_long, rupiah
from handlers.text.i18n import N_
from storage import bank_admin, banks
from storage.audit import audit
from storage.clock import today

ACTION = "set_prices"
MIN_RUPIAH_PER_KG, MAX_RUPIAH_PER_KG = 50, 1_000_000  # below Rp50 is a slip such as `3,5` for 3.500
MAX_DAYS_AHEAD = 366

DONE = ("price:done", N_("price.done"))
DATE_CHOICES = (("from:today", N_("price.from_today")), ("from:tomorrow", N_("price.from_tomorrow")))
CONFIRM_CHOICES = (("price:save", N_("price.save")), ("price:cancel", N_("price.cancel")))
AMOUNT_ERRORS = {ZERO: N_("price.zero"), NEGATIVE: N_("price.zero"), TOO_MUCH: N_("price.too_high")}
AMOUNT_UNREADABLE = N_("price.unreadable")
DATE_UNREADABLE = N_("price.date_unreadable")


class State(StrEnum):
    CATEGORY = "price.category"
    AMOUNT = "price.amount"
    DATE = "price.date"
    CONFIRM = "price.confirm"


async def start(ctx: Context) -> str:
    """Choose the bank (if more than one), then the category."""
    ctx.drop(PriceChange)
    return await choose_bank(ctx, ACTION, State.CATEGORY)


@dataclass
class PriceChange(Draft):
    """The price change being written."""

    KEY = "price"
    category: str = ""
    rupiah: int = 0  # per kg
    since: str = ""  # the day it applies from, ISO


def category_name(ctx: Context, code: str) -> str:
    return ctx.t(f"category.{code}")


async def ask_category(ctx: Context) -> None:
    """Today's price list of the bank, and which category to change."""
    bank = await chosen_bank(ctx)
    locale, day = ctx.person.locale, today(ctx.now)
    prices = await banks.price_list(ctx.session, bank.id, day)
    codes = [category.code for category in await banks.categories(ctx.session)]
    lines = [
        ctx.t("info.price_line", category=category_name(ctx, code),
              price=rupiah(prices[code], locale) if prices.get(code) else ctx.t("info.not_bought"))
        for code in codes
    ]
    choices = [(f"cat:{code}", f"category.{code}") for code in codes]
    ctx.say("price.ask_category", bank=bank.name, date=date_long(day, locale), lines="\n".join(lines),
            choices=[*choices, DONE])


async def answer_category(ctx: Context, message: Inbound) -> str:
    """A category goes on to its new price; done goes back to the coordinator menu."""
    if message.choice == DONE[0]:
        ctx.drop(PriceChange)
        ctx.drop(ChosenBank)
        return COORDINATOR_MENU
    ctx.begin(PriceChange((message.choice or "").removeprefix("cat:")))
    return State.AMOUNT


async def ask_amount(ctx: Context) -> None:
    """The price now, any price already set for a later date, and the question."""
    bank, code = await chosen_bank(ctx), ctx.draft(PriceChange).category
    locale, day = ctx.person.locale, today(ctx.now)
    current = (await banks.price_list(ctx.session, bank.id, day)).get(code, 0)
    ctx.say("price.ask_amount", category=category_name(ctx, code),
            price=rupiah(current, locale) if current else ctx.t("info.not_bought"))
    upcoming = [
        ctx.t("price.upcoming_line", price=rupiah(price, locale), date=date_long(since, locale))
        for since, price in await bank_admin.upcoming_prices(ctx.session, bank.id, code, day)
    ]
    if upcoming:
        ctx.say("price.upcoming", lines="\n".join(upcoming))


async def answer_amount(ctx: Context, message: Inbound) -> str | None:
    """Reads a whole Rupiah amount from Rp50 to Rp1.000.000; goes on to the date it applies from."""
    try:
        amount = parse_amount(message.text, max_rupiah=MAX_RUPIAH_PER_KG)
    except ParseError as error:
        key = AMOUNT_ERRORS.get(error.reason, AMOUNT_UNREADABLE)
        await refuse(ctx, ACTION, error.reason, key, target=target(ctx),
                     limit=rupiah(MAX_RUPIAH_PER_KG, ctx.person.locale))
        return None
    if amount < MIN_RUPIAH_PER_KG:
        await refuse(ctx, ACTION, "too_little", N_("price.too_low"), target=target(ctx),
                     minimum=rupiah(MIN_RUPIAH_PER_KG, ctx.person.locale))
        return None
    ctx.draft(PriceChange).rupiah = amount
    return State.DATE


async def ask_date(ctx: Context) -> None:
    ctx.say("price.ask_date", choices=DATE_CHOICES)


async def answer_date(ctx: Context, message: Inbound) -> str | None:
    """Today, tomorrow or a typed date up to a year ahead; a past date is refused."""
    first = today(ctx.now)
    if message.kind is Kind.CHOICE:
        ctx.draft(PriceChange).since = (first + timedelta(days=int(message.choice == "from:tomorrow"))).isoformat()
        return State.CONFIRM
    try:
        day = parse_date(message.text, first)
    except ParseError as error:
        key = N_("price.date_past") if error.reason == IN_THE_PAST else DATE_UNREADABLE
        await refuse(ctx, ACTION, error.reason, key, target=target(ctx), today=date_long(first, ctx.person.locale))
        return None
    if day < first:
        await refuse(ctx, ACTION, IN_THE_PAST, N_("price.date_past"), target=target(ctx),
                     today=date_long(first, ctx.person.locale))
        return None
    if day > first + timedelta(days=MAX_DAYS_AHEAD):
        await refuse(ctx, ACTION, "too_far", N_("price.date_too_far"), target=target(ctx))
        return None
    ctx.draft(PriceChange).since = day.isoformat()
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The change as it will apply: old and new price, and from when."""
    bank, change = await chosen_bank(ctx), ctx.draft(PriceChange)
    locale, since, code = ctx.person.locale, date.fromisoformat(change.since), change.category
    old = (await banks.price_list(ctx.session, bank.id, since)).get(code, 0)
    ctx.say("price.ask_confirm", category=category_name(ctx, code), bank=bank.name,
            old=rupiah(old, locale), new=rupiah(change.rupiah, locale), date=date_long(since, locale),
            choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Saves the price as a new entry in the bank's history (checking scope again); back to the list."""
    change = ctx.draft(PriceChange)
    ctx.drop(PriceChange)
    if message.choice != "price:save":
        ctx.say("cancel.done")
        return State.CATEGORY
    bank = await chosen_bank(ctx)
    if not await permit_bank(ctx, ACTION, bank.id, target=f"bank:{bank.id}"):
        return COORDINATOR_MENU
    since, amount, code = date.fromisoformat(change.since), change.rupiah, change.category
    replaced = await bank_admin.set_price(ctx.session, bank.id, code, amount, since, ctx.now)
    await audit(ctx.session, ctx.person.id, ACTION, "ok", ctx.now, target=f"bank:{bank.id}",
                category=code, rupiah_per_kg=amount, effective_from=since.isoformat(), replaced=replaced)
    locale = ctx.person.locale
    ctx.say("price.saved", category=category_name(ctx, code), price=rupiah(amount, locale),
            date=date_long(since, locale))
    return State.CATEGORY


def target(ctx: Context) -> str | None:
    bank_id = ctx.draft(ChosenBank).id
    return f"bank:{bank_id}" if bank_id is not None else None


STEPS = {
    State.CATEGORY: Step(ask_category, answer_category, N_("price.help_category")),
    State.AMOUNT: Step(ask_amount, answer_amount, N_("price.help_amount"), accepts=TEXT),
    State.DATE: Step(ask_date, answer_date, N_("price.help_date"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("price.help_confirm")),
}
