"""`Tarik saldo`: choose the bank (when savings are at more than one), type the amount, confirm;
the amount is held at once and a coordinator pays it out at the bank."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers import registration
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw, Step
from handlers.dialog.parsing import NEGATIVE, TOO_MUCH, ZERO, ParseError, parse_amount
from handlers.messages import Inbound
from handlers.text.formatting import rupiah
from handlers.text.i18n import N_
from storage import banks
from storage.audit import audit
from storage.ledger import balance
from storage.models import Account
from storage.withdrawals import Refusal, request_withdrawal

CONFIRM_CHOICES = (("wd:yes", N_("withdraw.yes")), ("wd:no", N_("withdraw.no")))
AMOUNT_ZERO, AMOUNT_INVALID = N_("withdraw.amount_zero"), N_("withdraw.amount_invalid")


class State(StrEnum):
    BANK = "withdraw.bank"
    AMOUNT = "withdraw.amount"
    CONFIRM = "withdraw.confirm"


@dataclass
class WithdrawalDraft(Draft):
    """The account being withdrawn from, and the amount once typed."""

    KEY = "withdraw"
    account: int | None = None
    amount: int | None = None  # rupiah


async def has_account(ctx: Context) -> bool:
    """A registered resident with savings at a waste bank."""
    return registration.is_resident(ctx.person) and bool(await banks.accounts_of(ctx.session, ctx.person.id))


async def funded(ctx: Context) -> list[tuple[Account, int]]:
    """The resident's accounts with something to withdraw, and their balances (one query)."""
    return [(account, amount) for account, amount in await banks.savings(ctx.session, ctx.person.id) if amount > 0]


async def begin(ctx: Context) -> str:
    """Straight to the amount when only one bank holds savings; the bank first when several do."""
    ctx.drop(WithdrawalDraft)
    if not await has_account(ctx):
        return no_account(ctx)
    accounts = await funded(ctx)
    if not accounts:
        ctx.say("withdraw.empty")
        return MENU
    if len(accounts) == 1:
        ctx.begin(WithdrawalDraft(accounts[0][0].id))
        return State.AMOUNT
    return State.BANK


async def ask_bank(ctx: Context) -> None:
    locale = ctx.person.locale
    choices = [(f"acct:{a.id}", Raw(f"{a.bank.name} – {rupiah(amount, locale)}")) for a, amount in await funded(ctx)]
    ctx.say("withdraw.ask_bank", choices=choices)


async def answer_bank(ctx: Context, message: Inbound) -> str:
    """Keeps the chosen account; goes on to the amount."""
    ctx.begin(WithdrawalDraft(int((message.choice or "").removeprefix("acct:"))))
    return State.AMOUNT


async def chosen(ctx: Context) -> tuple[Account, int] | None:
    """The account being withdrawn from (the resident's own) and its balance now."""
    wanted = ctx.draft(WithdrawalDraft).account
    mine = next((a for a in await banks.accounts_of(ctx.session, ctx.person.id) if a.id == wanted), None)
    return None if mine is None else (mine, await balance(ctx.session, mine.id))


async def ask_amount(ctx: Context) -> None:
    account, available = await chosen(ctx) or (None, 0)
    ctx.say("withdraw.ask_amount", bank=account.bank.name if account else "", balance=rupiah(available, ctx.person.locale))


async def answer_amount(ctx: Context, message: Inbound) -> str | None:
    """Keeps an amount the balance covers (goes on to confirm); anything else is refused and stays."""
    account, available = await chosen(ctx) or (None, 0)
    if account is None:
        return no_account(ctx)
    try:
        amount = parse_amount(message.text)
    except ParseError as error:
        if error.reason == TOO_MUCH:
            await refuse_above_balance(ctx, account.id, available, None)
        else:
            ctx.say(AMOUNT_ZERO if error.reason in (ZERO, NEGATIVE) else AMOUNT_INVALID)
        return None
    if amount > available:
        await refuse_above_balance(ctx, account.id, available, amount)
        return None
    ctx.draft(WithdrawalDraft).amount = amount
    return State.CONFIRM


async def refuse_above_balance(ctx: Context, account_id: int, available: int, amount: int | None) -> None:
    """Says how much there is, and records the attempt."""
    await audit(ctx.session, ctx.person.id, "request_withdrawal", "above_balance", ctx.now,
                target=f"account:{account_id}", amount=amount, balance=available)
    ctx.say("withdraw.above_balance", balance=rupiah(available, ctx.person.locale))


async def ask_confirm(ctx: Context) -> None:
    account, _ = await chosen(ctx) or (None, 0)
    ctx.say(
        "withdraw.ask_confirm",
        amount=rupiah(ctx.draft(WithdrawalDraft).amount, ctx.person.locale),
        bank=account.bank.name if account else "",
        choices=CONFIRM_CHOICES,
    )


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Holds the amount and says so (back to the menu); if the balance fell meanwhile, asks again."""
    if message.choice != "wd:yes":
        ctx.drop(WithdrawalDraft)
        ctx.say("cancel.done")
        return MENU
    account, _ = await chosen(ctx) or (None, 0)
    if account is None:
        return no_account(ctx)
    amount = ctx.draft(WithdrawalDraft).amount
    result = await request_withdrawal(ctx.session, account.id, amount, ctx.now)
    if isinstance(result, Refusal):
        await refuse_above_balance(ctx, account.id, result.balance, amount)
        return State.AMOUNT if result.balance > 0 else MENU
    ctx.drop(WithdrawalDraft)
    await audit(ctx.session, ctx.person.id, "request_withdrawal", "held", ctx.now, target=f"withdrawal:{result.id}",
                amount=result.amount)
    locale = ctx.person.locale
    ctx.say("withdraw.held", amount=rupiah(result.amount, locale), bank=account.bank.name,
            balance=rupiah(await balance(ctx.session, account.id), locale))
    return MENU


def no_account(ctx: Context) -> str:
    """The account is not (or no longer) the resident's: back to the menu."""
    ctx.drop(WithdrawalDraft)
    ctx.say("withdraw.no_account")
    return MENU


STEPS = {
    State.BANK: Step(ask_bank, answer_bank, N_("withdraw.help_bank")),
    State.AMOUNT: Step(ask_amount, answer_amount, N_("withdraw.help_amount"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("withdraw.help_confirm")),
}
