"""Report sorted waste: categories as people group them, a weight for each, an optional photo, a
summary with the estimated value, and a confirm step. A half-finished report is kept as a draft."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby

from handlers import registration
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Step
from handlers.dialog.parsing import ParseError, parse_weight
from handlers.messages import Inbound, Kind
from handlers.text.formatting import rupiah, weight
from handlers.text.i18n import N_, translate
from storage import banks
from storage.clock import today
from storage.models import WasteBank
from storage.reports import create_report

MAX_GRAMS = 100_000
PHOTO_OR_CHOICE = frozenset({Kind.PHOTO, Kind.CHOICE})


RESUME_CHOICES = (("draft:continue", N_("report.continue")), ("draft:new", N_("report.start_over")))
MORE_CHOICES = (("more:yes", N_("report.add_more")), ("more:no", N_("report.no_more")))
PHOTO_CHOICES = (("photo:skip", N_("report.skip_photo")),)
CONFIRM_CHOICES = (("confirm:send", N_("report.send")), ("confirm:cancel", N_("report.cancel")))
BACK = ("cat:back", N_("report.back"))
WEIGHT_INVALID = N_("report.weight_invalid")
SAVED, SAVED_NO_BANK = N_("report.saved"), N_("report.saved_no_bank")


class State(StrEnum):
    RESUME = "report.resume"
    GROUP = "report.group"
    CATEGORY = "report.category"
    WEIGHT = "report.weight"
    MORE = "report.more"
    PHOTO = "report.photo"
    CONFIRM = "report.confirm"


def category_name(code: str) -> str:
    return f"category.{code}"


@dataclass
class Report(Draft):
    """The report being written, kept in the conversation until sent or cancelled."""

    KEY = "report"
    items: list[list] = field(default_factory=list)  # [category code, grams], in the order they were added
    photo: str | None = None
    group: str | None = None  # the group of kinds being chosen from
    category: str | None = None  # the kind whose weight is asked


def items(ctx: Context) -> list[tuple[str, int]]:
    """(category code, grams) of the draft, in the order they were added."""
    return [(str(code), int(grams)) for code, grams in ctx.draft(Report).items]


def begin(ctx: Context) -> str:
    """Registration first if needed; a kept draft is offered back."""
    if not registration.is_resident(ctx.person):
        return registration.start(ctx, then=State.GROUP)
    return State.RESUME if items(ctx) else State.GROUP


async def ask_resume(ctx: Context) -> None:
    ctx.say(
        "report.ask_resume",
        items=item_list(ctx),
        choices=RESUME_CHOICES,
    )


async def answer_resume(ctx: Context, message: Inbound) -> str:
    """Continues the draft at its summary, or starts a new report."""
    if message.choice == "draft:new":
        ctx.drop(Report)
        return State.GROUP
    return State.MORE


async def ask_group(ctx: Context) -> None:
    groups = [group for group, _ in groupby(await banks.categories(ctx.session), key=lambda c: c.group)]
    choices = [(f"grp:{group}", f"category_group.{group}") for group in groups]
    if items(ctx):
        choices.append(("grp:done", N_("report.no_more")))
    ctx.say("report.ask_group", choices=choices)


async def answer_group(ctx: Context, message: Inbound) -> str:
    """A group with one kind goes straight to its weight; others list their kinds."""
    group = (message.choice or "").removeprefix("grp:")
    if group == "done":
        return State.PHOTO
    members = [c.code for c in await banks.categories(ctx.session) if c.group == group]
    report = ctx.draft(Report)
    report.group = group
    if len(members) == 1:
        report.category = members[0]
        return State.WEIGHT
    return State.CATEGORY


async def ask_category(ctx: Context) -> None:
    members = [c.code for c in await banks.categories(ctx.session) if c.group == ctx.draft(Report).group]
    choices = [(f"cat:{code}", category_name(code)) for code in members]
    ctx.say("report.ask_category", choices=[*choices, BACK])


async def answer_category(ctx: Context, message: Inbound) -> str:
    code = (message.choice or "").removeprefix("cat:")
    if code == "back":
        return State.GROUP
    ctx.draft(Report).category = code
    return State.WEIGHT


async def ask_weight(ctx: Context) -> None:
    ctx.say("report.ask_weight", category=ctx.t(category_name(ctx.draft(Report).category or "")))


WEIGHT_ERRORS = {
    "zero": N_("report.weight_zero"),
    "negative": N_("report.weight_zero"),
    "too_heavy": N_("report.weight_too_heavy"),
}


def read_weight(ctx: Context, text: str) -> int | None:
    """Grams for a typed weight, or None after saying what is expected."""
    try:
        return parse_weight(text, max_grams=MAX_GRAMS)
    except ParseError as error:
        ctx.say(WEIGHT_ERRORS.get(error.reason, WEIGHT_INVALID), limit=weight(MAX_GRAMS, ctx.person.locale))
        return None


async def answer_weight(ctx: Context, message: Inbound) -> str | None:
    """Adds the weight to the draft (the same kind twice adds up); asks whether there is more."""
    grams = read_weight(ctx, message.text)
    if grams is None:
        return None
    report = ctx.draft(Report)
    code = report.category or ""
    current = dict(items(ctx))
    if current.get(code, 0) + grams > MAX_GRAMS:
        ctx.say("report.weight_too_heavy", limit=weight(MAX_GRAMS, ctx.person.locale))
        return None
    current[code] = current.get(code, 0) + grams
    report.items, report.category = [[c, g] for c, g in current.items()], None
    return State.MORE


async def ask_more(ctx: Context) -> None:
    ctx.say(
        "report.ask_more",
        items=item_list(ctx),
        choices=MORE_CHOICES,
    )


async def answer_more(ctx: Context, message: Inbound) -> str:
    return State.GROUP if message.choice == "more:yes" else State.PHOTO


async def ask_photo(ctx: Context) -> None:
    ctx.say("report.ask_photo", choices=PHOTO_CHOICES)


async def answer_photo(ctx: Context, message: Inbound) -> str:
    if message.kind is Kind.PHOTO:
        ctx.draft(Report).photo = message.photo
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The summary: each kind with weight, price and value, the total, and where it will be weighed."""
    bank, prices = await pricing(ctx)
    text, total = lines(ctx.person.locale, [(code, grams, prices.get(code, 0)) for code, grams in items(ctx)])
    ctx.say("report.summary", lines=text, total=rupiah(total, ctx.person.locale))
    if bank is None:
        ctx.say("report.no_bank_prices")
    ctx.say("report.ask_confirm", choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Stores the report as awaiting weighing at the prices in force, or drops it."""
    if message.choice != "confirm:send":
        ctx.drop(Report)
        ctx.say("cancel.done")
        return MENU
    bank, prices = await pricing(ctx)
    if bank is not None:
        await banks.ensure_account(ctx.session, ctx.person.id, bank.id)
    await create_report(
        ctx.session,
        person_id=ctx.person.id,
        rw_id=ctx.person.rw_id,  # type: ignore[arg-type]
        bank_id=bank.id if bank else None,
        items=items(ctx),
        prices=prices,
        photo=ctx.draft(Report).photo,
        now=ctx.now,
    )
    ctx.drop(Report)
    ctx.say(SAVED if bank else SAVED_NO_BANK, bank=bank.name if bank else "")
    return MENU


def lines(locale: str, items: Iterable[tuple[str, int, int]]) -> tuple[str, int]:
    """`• botol PET: 2,5 kg × Rp3.000/kg = Rp7.500` per (code, grams, price), and the total in Rupiah."""
    shown, total = [], 0
    for code, grams, price in items:
        value = (grams * price + 500) // 1000
        total += value
        shown.append(
            translate(locale, "report.line", category=translate(locale, category_name(code)),
                      weight=weight(grams, locale), price=rupiah(price, locale), value=rupiah(value, locale))
        )
    return "\n".join(shown), total


async def pricing(ctx: Context) -> tuple[WasteBank | None, dict[str, int]]:
    """The resident's bank (if their RW has one) and the price list in force today."""
    bank = await banks.bank_for_rw(ctx.session, ctx.person.rw_id) if ctx.person.rw_id else None
    return bank, await banks.price_list(ctx.session, bank.id if bank else None, today(ctx.now))


def item_list(ctx: Context) -> str:
    """`2,5 kg botol PET, 1 kg kardus`."""
    locale = ctx.person.locale
    return ", ".join(
        ctx.t("report.item", weight=weight(grams, locale), category=ctx.t(category_name(code)))
        for code, grams in items(ctx)
    )


STEPS = {
    State.RESUME: Step(ask_resume, answer_resume, N_("report.help_resume")),
    State.GROUP: Step(ask_group, answer_group, N_("report.help_group")),
    State.CATEGORY: Step(ask_category, answer_category, N_("report.help_group")),
    State.WEIGHT: Step(ask_weight, answer_weight, N_("report.help_weight"), accepts=TEXT),
    State.MORE: Step(ask_more, answer_more, N_("report.help_more")),
    State.PHOTO: Step(ask_photo, answer_photo, N_("report.help_photo"), accepts=PHOTO_OR_CHOICE),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("report.help_confirm")),
}
