"""`Sedekah sampah`: a resident gives part of their waste-bank savings to an RW's shared (Bersama)
offer. Their own RW's offer is proposed first when it is open; otherwise, or on request, they choose
another from a paged list. Then the bank (when savings are at several), the amount, a summary, and
the gift: the balance is debited and the offer's progress moves at once. Gifts are shown on the RW
page only in aggregate ("Warga RW 012 (sedekah sampah)"), never by name."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from handlers import registration
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw, Step
from handlers.dialog.parsing import NEGATIVE, TOO_MUCH, ZERO, ParseError, parse_amount
from handlers.messages import Inbound
from handlers.text.formatting import progress_bar, rupiah, rw_name
from handlers.text.i18n import N_
from handlers.withdraw import funded
from storage import places
from storage.audit import audit
from storage.ledger import balance
from storage.models import Account, Offer
from storage.pledges import ABOVE_BALANCE, ABOVE_REMAINING, OfferState, Refusal, give_savings
from storage.sedekah import open_shared, shared_state

ACTION = "give_savings"
PAGE = 8
CANCEL = ("sdk:cancel", N_("sedekah.cancel"))
OWN_CHOICES = (("own:yes", N_("sedekah.choose_own")), ("own:other", N_("sedekah.choose_other")), CANCEL)
NEXT, PREVIOUS = ("list:next", N_("sedekah.next")), ("list:prev", N_("sedekah.previous"))
CONFIRM_CHOICES = (("sdk:yes", N_("sedekah.yes")), CANCEL)
AMOUNT_ZERO, AMOUNT_INVALID = N_("sedekah.amount_zero"), N_("sedekah.amount_invalid")


class State(StrEnum):
    OWN = "sedekah.own"
    LIST = "sedekah.list"
    BANK = "sedekah.bank"
    AMOUNT = "sedekah.amount"
    CONFIRM = "sedekah.confirm"


@dataclass
class Gift(Draft):
    """The gift of savings being prepared: the page of other RWs seen, the offer, the account, the amount."""

    KEY = "sedekah"
    page: int = 0  # of the list of other RWs' offers
    offer: int | None = None
    account: int | None = None  # the resident's account the gift comes from
    amount: int | None = None  # rupiah


async def can_give(ctx: Context) -> bool:
    """A registered resident with a verified balance above zero at some waste bank."""
    return registration.is_resident(ctx.person) and bool(await funded(ctx))


async def place(ctx: Context, rw_id: int | None) -> dict[str, str]:
    """`rw` (as `012`) and `kelurahan` of an RW, for messages."""
    if rw_id is None:
        return {"rw": "-", "kelurahan": "-"}
    rw = await places.rw(ctx.session, rw_id)
    return {"rw": f"{rw.number:03d}", "kelurahan": rw.kelurahan.name}


async def where(ctx: Context, state: OfferState | None) -> dict[str, str]:
    """`rw` and `kelurahan` of an offer's RW."""
    return await place(ctx, state.offer.rw_id if state else None)


def bar(state: OfferState) -> str:
    return progress_bar(Fraction(state.pledged, state.offer.target or 1))


def progress(ctx: Context, state: OfferState) -> dict[str, str]:
    """What an offer has gathered, of which target, and its bar."""
    locale = ctx.person.locale
    return {"pledged": rupiah(state.pledged, locale), "target": rupiah(state.offer.target, locale),
            "progress": bar(state)}


async def offer_now(ctx: Context, offer_id: int | None) -> OfferState | None:
    """The shared offer as it stands now; None if there is no such shared offer."""
    offer = await ctx.session.get(Offer, offer_id) if offer_id else None
    state = await shared_state(ctx.session, offer.rw_id, ctx.now) if offer else None
    return state if state is not None and state.offer.id == offer_id else None


def chosen_offer_id(ctx: Context) -> int | None:
    return ctx.draft(Gift).offer


async def begin(ctx: Context) -> str:
    """The own RW's open offer first; otherwise the list of other RWs (or, when none is open, the menu)."""
    ctx.begin(Gift())
    if not await can_give(ctx):
        return no_savings(ctx)
    own = await shared_state(ctx.session, ctx.person.rw_id, ctx.now)
    if own is not None and own.open:
        return State.OWN
    if not await others(ctx):
        ctx.drop(Gift)
        ctx.say("sedekah.none_open")
        return MENU
    ctx.say("sedekah.own_not_open", **await place(ctx, ctx.person.rw_id))
    return State.LIST


async def ask_own(ctx: Context) -> None:
    """Proposes the resident's own RW, with what its offer has gathered."""
    own = await shared_state(ctx.session, ctx.person.rw_id, ctx.now)
    if own is None or not own.open:  # filled since the menu: another RW, or cancel
        ctx.say("sedekah.offer_filled", **await where(ctx, own), choices=OWN_CHOICES[1:])
        return
    ctx.say("sedekah.ask_own", **await where(ctx, own), **progress(ctx, own), choices=OWN_CHOICES)


async def answer_own(ctx: Context, message: Inbound) -> str:
    """Own RW: on to the bank or the amount; another RW: the list; Batal: the menu."""
    if message.choice == CANCEL[0]:
        return cancel(ctx)
    if message.choice == "own:other":
        if not await others(ctx):
            ctx.say("sedekah.none_other")
            return State.OWN
        return State.LIST
    own = await shared_state(ctx.session, ctx.person.rw_id, ctx.now)
    if own is None or not own.open:
        ctx.say("sedekah.offer_filled", **await where(ctx, own))
        return State.LIST
    return await offer_chosen(ctx, own.offer.id)


async def others(ctx: Context) -> list[OfferState]:
    """The open shared offers of RWs other than the resident's own (RW and kelurahan loaded)."""
    return await open_shared(ctx.session, ctx.now, except_rw_id=ctx.person.rw_id)


async def ask_list(ctx: Context) -> None:
    """One page of other RWs' open shared offers, each with its progress."""
    offers = await others(ctx)
    pages = max((len(offers) + PAGE - 1) // PAGE, 1)
    gift = ctx.draft(Gift)
    page = gift.page = max(min(gift.page, pages - 1), 0)
    shown = offers[page * PAGE:(page + 1) * PAGE]
    if not shown:
        ctx.say("sedekah.none_other", choices=[CANCEL])
        return
    choices: list[tuple[str, str]] = [(f"offer:{state.offer.id}", Raw(label(state))) for state in shown]
    if page + 1 < pages:
        choices.append(NEXT)
    if page > 0:
        choices.append(PREVIOUS)
    ctx.say("sedekah.ask_list", first=page * PAGE + 1, last=page * PAGE + len(shown), total=len(offers),
            choices=[*choices, CANCEL])


def label(state: OfferState) -> str:
    """`RW 014 Kebon Melati · ▓░░░░░░░░░ 12%` (the RW and kelurahan as `open_shared` loads them)."""
    rw = state.offer.upgrade_rw.rw
    return f"{rw_name(rw.number, rw.kelurahan.name)} · {bar(state)}"


async def answer_list(ctx: Context, message: Inbound) -> str:
    """Pages move the list; an offer still open goes on to the bank or amount; one filled meanwhile is said."""
    choice = message.choice or ""
    if choice == CANCEL[0]:
        return cancel(ctx)
    if choice in (NEXT[0], PREVIOUS[0]):
        ctx.draft(Gift).page += 1 if choice == NEXT[0] else -1
        return State.LIST
    offer_id = int(choice.removeprefix("offer:"))
    state = await offer_now(ctx, offer_id)
    if state is None or not state.open:
        ctx.say("sedekah.offer_filled", **await where(ctx, state))
        return State.LIST
    return await offer_chosen(ctx, offer_id)


async def offer_chosen(ctx: Context, offer_id: int) -> str:
    """Keeps the offer; the bank next when savings are at several, else straight to the amount."""
    gift = ctx.draft(Gift)
    gift.offer = offer_id
    accounts = await funded(ctx)
    if not accounts:
        return no_savings(ctx)
    if len(accounts) == 1:
        gift.account = accounts[0][0].id
        return State.AMOUNT
    return State.BANK


async def ask_bank(ctx: Context) -> None:
    locale = ctx.person.locale
    choices = [(f"acct:{a.id}", Raw(f"{a.bank.name} – {rupiah(amount, locale)}")) for a, amount in await funded(ctx)]
    ctx.say("sedekah.ask_bank", choices=[*choices, CANCEL])


async def answer_bank(ctx: Context, message: Inbound) -> str:
    """Keeps the chosen account; goes on to the amount."""
    if message.choice == CANCEL[0]:
        return cancel(ctx)
    ctx.draft(Gift).account = int((message.choice or "").removeprefix("acct:"))
    return State.AMOUNT


async def chosen_account(ctx: Context) -> tuple[Account, int] | None:
    """The account the gift comes from (the resident's own, with savings) and its balance now."""
    wanted = ctx.draft(Gift).account
    return next(((account, amount) for account, amount in await funded(ctx) if account.id == wanted), None)


async def ask_amount(ctx: Context) -> None:
    account, available = await chosen_account(ctx) or (None, 0)
    state = await offer_now(ctx, chosen_offer_id(ctx))
    locale = ctx.person.locale
    ctx.say("sedekah.ask_amount", bank=account.bank.name if account else "", balance=rupiah(available, locale),
            remaining=rupiah(state.remaining if state else 0, locale), **await where(ctx, state))


async def answer_amount(ctx: Context, message: Inbound) -> str | None:
    """Keeps an amount within the balance and what the offer still needs (on to confirm); anything
    else is refused with the numbers and stays."""
    chosen = await chosen_account(ctx)
    if chosen is None:
        return no_savings(ctx)
    state = await offer_now(ctx, chosen_offer_id(ctx))
    if state is None or not state.open:
        ctx.say("sedekah.offer_filled", **await where(ctx, state))
        return State.LIST
    account, available = chosen
    try:
        amount: int | None = parse_amount(message.text)
    except ParseError as error:
        if error.reason != TOO_MUCH:
            ctx.say(AMOUNT_ZERO if error.reason in (ZERO, NEGATIVE) else AMOUNT_INVALID,
                    balance=rupiah(available, ctx.person.locale))
            return None
        amount = None  # absurd: above every limit
    if amount is None or amount > min(available, state.remaining):
        await refuse_limit(ctx, account, available, state, amount)
        return None
    ctx.draft(Gift).amount = amount
    return State.CONFIRM


async def refuse_limit(ctx: Context, account: Account, available: int, state: OfferState, amount: int | None) -> None:
    """Says the limit that binds (the smaller of the balance and what the offer still needs), and
    records the attempt."""
    over_balance = available <= state.remaining
    await audit(ctx.session, ctx.person.id, ACTION, ABOVE_BALANCE if over_balance else ABOVE_REMAINING, ctx.now,
                target=f"offer:{state.offer.id}", amount=amount, balance=available, remaining=state.remaining)
    locale = ctx.person.locale
    if over_balance:
        ctx.say("sedekah.above_balance", bank=account.bank.name, balance=rupiah(available, locale))
    else:
        ctx.say("sedekah.above_remaining", remaining=rupiah(state.remaining, locale), **await where(ctx, state))


async def ask_confirm(ctx: Context) -> None:
    account, _ = await chosen_account(ctx) or (None, 0)
    state = await offer_now(ctx, chosen_offer_id(ctx))
    ctx.say("sedekah.ask_confirm", amount=rupiah(ctx.draft(Gift).amount, ctx.person.locale),
            bank=account.bank.name if account else "", giver_rw=(await place(ctx, ctx.person.rw_id))["rw"],
            **await where(ctx, state), choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Gives the savings and says the new balance and the offer's progress (back to the menu). If the
    balance fell or the offer filled meanwhile, says so with the numbers and asks again."""
    if message.choice != "sdk:yes":
        return cancel(ctx)
    chosen = await chosen_account(ctx)
    if chosen is None:
        return no_savings(ctx)
    account, _ = chosen
    offer_id, amount = chosen_offer_id(ctx), ctx.draft(Gift).amount
    result = await give_savings(ctx.session, ctx.person.id, account.id, offer_id, amount, ctx.now,
                                giver_rw_id=ctx.person.rw_id)
    if isinstance(result, Refusal):
        return await refused(ctx, account, offer_id, amount, result)
    await audit(ctx.session, ctx.person.id, ACTION, "given", ctx.now, target=f"pledge:{result.id}", amount=amount,
                offer=offer_id)
    ctx.drop(Gift)
    state = await offer_now(ctx, offer_id)
    locale = ctx.person.locale
    ctx.say("sedekah.done", amount=rupiah(amount, locale), balance=rupiah(await balance(ctx.session, account.id), locale),
            **await where(ctx, state), **(progress(ctx, state) if state else {}))
    return MENU


async def refused(ctx: Context, account: Account, offer_id: int, amount: int, refusal: Refusal) -> str:
    """What changed since the summary: the balance fell (the amount again, or the menu when nothing
    is left), the offer needs less (the amount again), or it filled or closed (the list)."""
    await audit(ctx.session, ctx.person.id, ACTION, refusal.reason, ctx.now, target=f"offer:{offer_id}", amount=amount,
                balance=refusal.balance, remaining=refusal.remaining)
    locale = ctx.person.locale
    if refusal.reason == ABOVE_BALANCE:
        ctx.say("sedekah.balance_fell", bank=account.bank.name, balance=rupiah(refusal.balance, locale))
        return State.AMOUNT if refusal.balance > 0 else no_savings(ctx, told=True)
    state = await offer_now(ctx, offer_id)
    if refusal.reason == ABOVE_REMAINING and state is not None and state.open:
        ctx.say("sedekah.remaining_fell", remaining=rupiah(state.remaining, locale), **await where(ctx, state))
        return State.AMOUNT
    ctx.say("sedekah.offer_filled", **await where(ctx, state))
    ctx.begin(Gift())
    return State.LIST


def cancel(ctx: Context) -> str:
    ctx.drop(Gift)
    ctx.say("cancel.done")
    return MENU


def no_savings(ctx: Context, told: bool = False) -> str:
    """No savings (left) to give: back to the menu."""
    ctx.drop(Gift)
    if not told:
        ctx.say("sedekah.no_savings")
    return MENU


STEPS = {
    State.OWN: Step(ask_own, answer_own, N_("sedekah.help_own")),
    State.LIST: Step(ask_list, answer_list, N_("sedekah.help_list")),
    State.BANK: Step(ask_bank, answer_bank, N_("sedekah.help_bank")),
    State.AMOUNT: Step(ask_amount, answer_amount, N_("sedekah.help_amount"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("sedekah.help_confirm")),
}
