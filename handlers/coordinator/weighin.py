"""Weigh-in (`Timbang setoran`, `/timbang 1234 PET 2,5 kardus 1`): on weighing day a coordinator
records a resident's deposit in one line or step by step, picks which of the resident's pending
self-reports it settles, confirms, and the resident gets a receipt. `Koreksi setoran` reverses a
recent deposit with a reversing entry."""

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
from handlers.coordinator.weighin_line import (
    CATEGORY_UNKNOWN,
    MEMBER_INVALID,
    WEIGHT_FIRST,
    WEIGHT_MISSING,
    LineError,
    Who,
    parse_line,
)
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw
from handlers.dialog.notify import notify
from handlers.dialog.parsing import ParseError, parse_weight
from handlers.messages import Inbound
from handlers.report import MAX_GRAMS, category_name, lines
from handlers.text.formatting import datetime_short, rupiah, weight
from handlers.text.i18n import N_
from storage import banks, ledger
from storage import weighin as store
from storage.audit import audit
from storage.clock import today
from storage.models import Account, Person, WasteBank, WasteReport, WasteReportItem

ACTION = "weigh_in"
PENDING_SHOWN = 8
DEPOSITS_SHOWN = 5

MEMBER_CHOICES = (("wi:correct", N_("weighin.correct")), ("wi:done", N_("weighin.done")))
MORE_CHOICES = (("more:yes", N_("report.add_more")), ("more:no", N_("report.no_more")))
SETTLE_CHOICES = (
    ("settle:all", N_("weighin.settle_all")),
    ("settle:none", N_("weighin.settle_none")),
    ("settle:done", N_("weighin.settle_done")),
)
CONFIRM_CHOICES = (("confirm:save", N_("weighin.save")), ("confirm:cancel", N_("report.cancel")))
REVERSE_CHOICES = (("reverse:yes", N_("weighin.reverse_yes")), ("reverse:no", N_("report.back")))
BACK = ("back", N_("report.back"))
LINE_ERRORS = {
    MEMBER_INVALID: N_("weighin.member_invalid"),
    CATEGORY_UNKNOWN: N_("weighin.category_unknown"),
    WEIGHT_FIRST: N_("weighin.weight_first"),
    WEIGHT_MISSING: N_("weighin.weight_missing"),
    "too_heavy": N_("weighin.weight_too_heavy"),
    "zero": N_("weighin.weight_zero"),
    "negative": N_("weighin.weight_zero"),
}
WEIGHT_INVALID = N_("weighin.weight_invalid")
RECEIPT = N_("weighin.receipt")
REVERSED_NOTICE = N_("weighin.reversed_notice")


class State(StrEnum):
    BANK = "weighin.bank"
    MEMBER = "weighin.member"
    CATEGORY = "weighin.category"
    WEIGHT = "weighin.weight"
    MORE = "weighin.more"
    SETTLE = "weighin.settle"
    CONFIRM = "weighin.confirm"
    DEPOSITS = "weighin.deposits"
    REVERSE = "weighin.reverse"


@dataclass
class Weighin(Draft):
    """The weigh-in being recorded: bank, account, items, reports to settle."""

    KEY = "weighin"
    bank: int = 0  # kept for every weigh-in until done
    line: str = ""  # typed with `/timbang`, read once the bank is known
    account: int = 0
    items: list[list] = field(default_factory=list)  # [category code, grams]
    settle: list[int] = field(default_factory=list)  # the resident's own reports this weigh-in settles
    category: str = ""  # the one whose weight is asked
    entry: int = 0  # the deposit to reverse


def weighin(ctx: Context) -> Weighin:
    return ctx.draft(Weighin)


def items(ctx: Context) -> list[tuple[str, int]]:
    return [(str(code), int(grams)) for code, grams in weighin(ctx).items]


async def begin(ctx: Context) -> str:
    """From the coordinator menu: the bank first (asked only when several are in scope)."""
    return await start(ctx, "")


async def command(ctx: Context, line: str) -> str | None:
    """`/timbang [line]`: like the menu entry, and a line given at once is read at once."""
    return await start(ctx, line)


async def start(ctx: Context, line: str) -> str:
    """Checks the role; goes to the bank question, or to the member number (or reads the line)."""
    if not await access.permit(ctx, ACTION):
        return MENU
    ctx.begin(Weighin(line=line.strip()))
    in_scope = await banks_in_scope(ctx)
    if not in_scope:
        ctx.say("weighin.no_bank")
        ctx.drop(Weighin)
        return COORDINATOR_MENU
    if len(in_scope) > 1:
        return State.BANK
    weighin(ctx).bank = in_scope[0].id
    return await after_bank(ctx)


async def after_bank(ctx: Context) -> str:
    """A line typed with the command is read now; otherwise the member number is asked."""
    line, weighin(ctx).line = weighin(ctx).line, ""
    if line and (next_state := await take_line(ctx, line)) is not None:
        return next_state
    return State.MEMBER


async def ask_bank(ctx: Context) -> None:
    choices = [(f"bank:{bank.id}", Raw(bank.name)) for bank in await banks_in_scope(ctx)]
    ctx.say("weighin.ask_bank", choices=choices)


async def answer_bank(ctx: Context, message: Inbound) -> str | None:
    """Keeps the bank chosen (if it is in scope) for every weigh-in until done."""
    bank_id = int((message.choice or "").removeprefix("bank:"))
    if not await permit_bank(ctx, ACTION, bank_id, target=f"bank:{bank_id}"):
        ctx.drop(Weighin)
        return MENU
    weighin(ctx).bank = bank_id
    return await after_bank(ctx)


async def bank(ctx: Context) -> WasteBank:
    return await ctx.session.get(WasteBank, weighin(ctx).bank)  # type: ignore[return-value]


async def ask_member(ctx: Context) -> None:
    ctx.say("weighin.ask_member", bank=(await bank(ctx)).name, choices=MEMBER_CHOICES)


async def answer_member(ctx: Context, message: Inbound) -> str | None:
    """A member number or phone, with or without the items; or Koreksi, or done."""
    if message.choice == "wi:done":
        ctx.drop(Weighin)
        return COORDINATOR_MENU
    if message.choice == "wi:correct":
        if not await store.recent_deposits(ctx.session, weighin(ctx).bank, 1):
            ctx.say("weighin.no_deposits")
            return None
        return State.DEPOSITS
    return await take_line(ctx, message.text)


async def take_line(ctx: Context, text: str) -> str | None:
    """Reads `1234 PET 2,5 kardus 1`; a bare member goes on to the categories one by one."""
    try:
        line = parse_line(text, store.category_aliases(), MAX_GRAMS)
    except LineError as error:
        say_line_error(ctx, error)
        return None
    account = await find_account(ctx, line.who)
    if account is None:
        return None
    draft = weighin(ctx)
    draft.account, draft.items, draft.settle = account.id, [list(item) for item in line.items], []
    return await after_items(ctx) if line.items else State.CATEGORY


def say_line_error(ctx: Context, error: LineError) -> None:
    """Names the word or category the line stumbled on."""
    category = ctx.t(category_name(error.word)) if error.word in store.category_aliases().values() else error.word
    ctx.say(
        LINE_ERRORS.get(error.reason, WEIGHT_INVALID),
        word=error.word, category=category, limit=weight(MAX_GRAMS, ctx.person.locale),
        examples=", ".join(sorted({words for words in store.category_aliases() if "_" not in words})),
    )


async def find_account(ctx: Context, who: Who) -> Account | None:
    """The resident's account at the chosen bank; says why when there is none. A phone whose owner
    saves at a bank outside the coordinator's scope is refused and audited."""
    bank_id = weighin(ctx).bank
    if who.member is not None:
        account = await store.account_by_member(ctx.session, bank_id, who.member)
        if account is None:
            ctx.say("weighin.member_unknown", member=who.member, bank=(await bank(ctx)).name)
        elif not await permit_bank(ctx, ACTION, bank_id, target=f"account:{account.id}"):
            return None
        return account
    person = await store.person_by_phone(ctx.session, who.phone or "")
    if person is None:
        ctx.say("weighin.phone_unknown")
        return None
    account = await store.account_at(ctx.session, person.id, bank_id)
    if account is not None:
        return account if await permit_bank(ctx, ACTION, bank_id, target=f"account:{account.id}") else None
    elsewhere = await banks.accounts_of(ctx.session, person.id)
    if not elsewhere:
        ctx.say("weighin.not_member", bank=(await bank(ctx)).name)
    elif await permit_bank(ctx, ACTION, elsewhere[0].bank_id, target=f"account:{elsewhere[0].id}"):
        ctx.say("weighin.member_elsewhere", bank=elsewhere[0].bank.name)
    return None


async def ask_category(ctx: Context) -> None:
    choices = [(f"cat:{c.code}", category_name(c.code)) for c in await banks.categories(ctx.session)]
    ctx.say("weighin.ask_category", name=(await resident(ctx)).name, choices=choices)


async def answer_category(ctx: Context, message: Inbound) -> str | None:
    """A category tapped or typed (its name or a short word such as `pet`); asks its weight."""
    code = (message.choice or "").removeprefix("cat:") or store.category_aliases().get(message.text.strip().lower())
    if not code:
        say_line_error(ctx, LineError(CATEGORY_UNKNOWN, message.text.strip()))
        return None
    weighin(ctx).category = code
    return State.WEIGHT


async def ask_weight(ctx: Context) -> None:
    ctx.say("weighin.ask_weight", category=ctx.t(category_name(weighin(ctx).category)))


async def answer_weight(ctx: Context, message: Inbound) -> str | None:
    """Adds the weight (the same category twice adds up, to at most 100 kg); asks for more."""
    code = weighin(ctx).category
    current = dict(items(ctx))
    try:
        grams = parse_weight(message.text, max_grams=MAX_GRAMS)
        if current.get(code, 0) + grams > MAX_GRAMS:
            raise ParseError("too_heavy")
    except ParseError as error:
        say_line_error(ctx, LineError(error.reason, code))
        return None
    current[code] = current.get(code, 0) + grams
    weighin(ctx).items, weighin(ctx).category = [[c, g] for c, g in current.items()], ""
    return State.MORE


async def ask_more(ctx: Context) -> None:
    ctx.say("weighin.ask_more", items=item_list(ctx), choices=MORE_CHOICES)


async def answer_more(ctx: Context, message: Inbound) -> str:
    return State.CATEGORY if message.choice == "more:yes" else await after_items(ctx)


async def after_items(ctx: Context) -> str:
    """The resident's pending self-reports are offered for settling, if there are any."""
    return State.SETTLE if await pending(ctx) else State.CONFIRM


async def pending(ctx: Context) -> list[WasteReport]:
    account = await ctx.session.get(Account, weighin(ctx).account)
    assert account is not None and account.person_id is not None
    return await store.pending_reports(ctx.session, account.person_id, account.bank_id, PENDING_SHOWN)


async def ask_settle(ctx: Context) -> None:
    """The weigh-in, then each pending self-report with a tick when chosen."""
    chosen = set(weighin(ctx).settle)
    reports = await pending(ctx)
    locale = ctx.person.locale
    listed = "\n".join(
        ctx.t("weighin.pending_line", number=n, date=datetime_short(r.reported_at, locale),
              items=", ".join(item_text(ctx, i.category_code, i.grams) for i in r.items),
              mark="✅" if r.id in chosen else "⬜")
        for n, r in enumerate(reports, start=1)
    )
    toggles = [(f"settle:{r.id}", Raw(f"{'✅' if r.id in chosen else '⬜'} {n}")) for n, r in enumerate(reports, start=1)]
    ctx.say("weighin.ask_settle", name=(await resident(ctx)).name, items=item_list(ctx), reports=listed,
            choices=[*toggles, *SETTLE_CHOICES])


async def answer_settle(ctx: Context, message: Inbound) -> str:
    """A number ticks or unticks a report; all, none or done go on to the summary."""
    choice = (message.choice or "").removeprefix("settle:")
    draft = weighin(ctx)
    if choice == "all":
        draft.settle = [r.id for r in await pending(ctx)]
    elif choice == "none":
        draft.settle = []
    elif choice != "done":
        draft.settle = sorted(set(draft.settle) ^ {int(choice)})
        return State.SETTLE
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The summary: who, each category with weight, price and value, the total, reports settled."""
    account = await ctx.session.get(Account, weighin(ctx).account)
    assert account is not None
    prices = await banks.price_list(ctx.session, account.bank_id, today(ctx.now))
    shown, total = lines(ctx.person.locale, [(code, grams, prices.get(code, 0)) for code, grams in items(ctx)])
    ctx.say("weighin.summary", name=(await resident(ctx)).name, member=account.member_number,
            bank=(await bank(ctx)).name, lines=shown, total=rupiah(total, ctx.person.locale),
            settled=len(weighin(ctx).settle))
    ctx.say("weighin.ask_confirm", choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Saves the weigh-in, or drops it and asks for the next member."""
    if message.choice != "confirm:save":
        ctx.begin(Weighin(bank=weighin(ctx).bank))
        ctx.say("cancel.done")
        return State.MEMBER
    return await save(ctx)


async def save(ctx: Context) -> str:
    """Credits the account at today's prices, settles the chosen reports, audits, sends the receipt."""
    account = await ctx.session.get(Account, weighin(ctx).account)
    assert account is not None
    if not await permit_bank(ctx, ACTION, account.bank_id, target=f"account:{account.id}"):
        ctx.drop(Weighin)
        return MENU
    person = await resident(ctx)
    rw_ids = await store.bank_rw_ids(ctx.session, account.bank_id)
    prices = await banks.price_list(ctx.session, account.bank_id, today(ctx.now))
    try:
        report, entry = await store.record_weighin(
            ctx.session, account=account, rw_id=person.rw_id if person.rw_id in rw_ids or not rw_ids else rw_ids[0],
            items=items(ctx), prices=prices, settle=list(weighin(ctx).settle),
            by=ctx.person.id, now=ctx.now,
        )
    except store.Stale:
        ctx.say("weighin.settle_stale")
        weighin(ctx).settle = []
        return await after_items(ctx)
    saldo = await ledger.balance(ctx.session, account.id)
    await audit(ctx.session, ctx.person.id, ACTION, "recorded", ctx.now, target=f"report:{report.id}",
                account=account.id, amount=entry.amount, items=items(ctx), settled=weighin(ctx).settle)
    await send_receipt(ctx, person, (await bank(ctx)).name, report.items, entry.amount, saldo)
    ctx.say("weighin.saved", name=person.name, amount=rupiah(entry.amount, ctx.person.locale),
            balance=rupiah(saldo, ctx.person.locale))
    ctx.begin(Weighin(bank=account.bank_id))
    return State.MEMBER


async def send_receipt(
    ctx: Context, person: Person, bank_name: str, credited: list[WasteReportItem], amount: int, saldo: int
) -> None:
    """The resident's receipt, in their language: what was weighed, what was credited, the balance."""
    locale = person.locale
    shown, _ = lines(locale, [(i.category_code, i.grams, i.rupiah_per_kg) for i in credited])
    await notify(ctx, person, RECEIPT, bank=bank_name, date=datetime_short(ctx.now, locale), lines=shown,
                 amount=rupiah(amount, locale), balance=rupiah(saldo, locale))


async def ask_deposits(ctx: Context) -> None:
    """The bank's latest deposits not yet reversed, newest first."""
    deposits = await store.recent_deposits(ctx.session, weighin(ctx).bank, DEPOSITS_SHOWN)
    locale = ctx.person.locale
    listed = "\n".join(
        ctx.t("weighin.deposit_line", number=n, date=datetime_short(d.entry.created_at, locale), name=d.name or "-",
              member=d.account.member_number, amount=rupiah(d.entry.amount, locale))
        for n, d in enumerate(deposits, start=1)
    )
    choices = [(f"dep:{d.entry.id}", Raw(str(n))) for n, d in enumerate(deposits, start=1)]
    ctx.say("weighin.ask_deposit", deposits=listed, choices=[*choices, BACK])


async def answer_deposits(ctx: Context, message: Inbound) -> str:
    if message.choice == "back":
        return State.MEMBER
    weighin(ctx).entry = int((message.choice or "").removeprefix("dep:"))
    return State.REVERSE


async def ask_reverse(ctx: Context) -> None:
    found = await store.deposit(ctx.session, weighin(ctx).entry)
    assert found is not None
    locale = ctx.person.locale
    ctx.say("weighin.ask_reverse", name=found.name or "-", member=found.account.member_number,
            date=datetime_short(found.entry.created_at, locale), amount=rupiah(found.entry.amount, locale),
            choices=REVERSE_CHOICES)


async def answer_reverse(ctx: Context, message: Inbound) -> str:
    """Reverses the deposit (never edits it), audits, and tells the resident their new balance."""
    entry_id, weighin(ctx).entry = weighin(ctx).entry, 0
    if message.choice != "reverse:yes":
        return State.DEPOSITS
    found = await store.deposit(ctx.session, entry_id)
    if found is None or not await permit_bank(ctx, ACTION, found.account.bank_id, target=f"ledger:{entry_id}"):
        ctx.drop(Weighin)
        return MENU
    try:
        reversal = await store.reverse(ctx.session, entry_id, ctx.now)
    except store.BalanceTooLow:
        ctx.say("weighin.reverse_balance_low")
        return State.MEMBER
    if reversal is None:
        ctx.say("weighin.already_reversed")
        return State.MEMBER
    saldo = await ledger.balance(ctx.session, found.account.id)
    await audit(ctx.session, ctx.person.id, "reverse_deposit", "reversed", ctx.now, target=f"ledger:{entry_id}",
                reversal=reversal.id, amount=reversal.amount, report=found.report.id)
    person = await ctx.session.get(Person, found.account.person_id) if found.account.person_id else None
    if person is not None:
        locale = person.locale
        await notify(ctx, person, REVERSED_NOTICE, date=datetime_short(found.entry.created_at, locale),
                     amount=rupiah(found.entry.amount, locale), balance=rupiah(saldo, locale))
    ctx.say("weighin.reversed", amount=rupiah(found.entry.amount, ctx.person.locale))
    return State.MEMBER


async def resident(ctx: Context) -> Person:
    """The person whose account the weigh-in credits."""
    account = await ctx.session.get(Account, weighin(ctx).account)
    assert account is not None and account.person_id is not None
    return await ctx.session.get(Person, account.person_id)  # type: ignore[return-value]


def item_list(ctx: Context) -> str:
    """`2,5 kg botol PET, 1 kg kardus`."""
    return ", ".join(item_text(ctx, code, grams) for code, grams in items(ctx))


step = partial(guarded_step, ACTION, Weighin)


STEPS = {
    State.BANK: step(ask_bank, answer_bank, N_("weighin.help_bank")),
    State.MEMBER: step(ask_member, answer_member, N_("weighin.help_member"), accepts=TEXT),
    State.CATEGORY: step(ask_category, answer_category, N_("weighin.help_category"), accepts=TEXT),
    State.WEIGHT: step(ask_weight, answer_weight, N_("weighin.help_weight"), accepts=TEXT),
    State.MORE: step(ask_more, answer_more, N_("report.help_more")),
    State.SETTLE: step(ask_settle, answer_settle, N_("weighin.help_settle")),
    State.CONFIRM: step(ask_confirm, answer_confirm, N_("weighin.help_confirm")),
    State.DEPOSITS: step(ask_deposits, answer_deposits, N_("weighin.help_deposits")),
    State.REVERSE: step(ask_reverse, answer_reverse, N_("weighin.help_reverse")),
}
