"""`Penarikan saldo`: held withdrawals at the coordinator's banks, oldest first; each is marked paid
(the hold stays as the debit) or declined (the hold is released), audited, and told to the resident."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.coordinator import COORDINATOR_MENU, access
from handlers.coordinator.waste_access import banks_in_scope, permit_bank
from handlers.dialog.machine import Context, Draft, Raw, Step
from handlers.dialog.notify import notify
from handlers.messages import Inbound
from handlers.text.formatting import datetime_short, rupiah
from handlers.text.i18n import N_
from storage import withdrawals
from storage.audit import audit
from storage.ledger import balance
from storage.withdrawals import DECLINED, PAID, Pending, Refusal

ACTION = "decide_withdrawal"
SHOWN = 10
TO_MENU = ("list:menu", N_("coordwd.to_menu"))
BACK = ("dec:back", N_("coordwd.back"))
DECIDE_CHOICES = ((f"dec:{PAID}", N_("coordwd.mark_paid")), (f"dec:{DECLINED}", N_("coordwd.mark_declined")), BACK)
DONE = {PAID: N_("coordwd.paid_done"), DECLINED: N_("coordwd.declined_done")}
TOLD = {PAID: N_("withdraw.paid_notice"), DECLINED: N_("withdraw.declined_notice")}
STATUS = {PAID: N_("coordwd.status_paid"), DECLINED: N_("coordwd.status_declined")}


class State(StrEnum):
    LIST = "coordwd.list"
    DECIDE = "coordwd.decide"


async def open_list(ctx: Context) -> str:
    """Only for someone who coordinates waste banks; goes on to the list."""
    if not await access.permit(ctx, ACTION):
        return COORDINATOR_MENU
    return State.LIST


def who(ctx: Context, item: Pending) -> str:
    """`Siti Aminah (anggota 1001)`, or only the member number once the person is erased."""
    member = item.account.member_number
    if item.person is None or item.person.name is None:
        return ctx.t("coordwd.member", member=member)
    return ctx.t("coordwd.named_member", name=item.person.name, member=member)


async def ask_list(ctx: Context) -> None:
    """The oldest held withdrawals at the banks serving the coordinator's RWs."""
    bank_ids = [bank.id for bank in await banks_in_scope(ctx)]
    items, total = await withdrawals.held(ctx.session, bank_ids, SHOWN)
    if not items:
        ctx.say("coordwd.none", choices=[TO_MENU])
        return
    locale = ctx.person.locale
    choices = [
        (f"wd:{item.withdrawal.id}", Raw(" · ".join((
            who(ctx, item), rupiah(item.withdrawal.amount, locale), datetime_short(item.withdrawal.requested_at, locale)
        ))))
        for item in items
    ]
    ctx.say("coordwd.ask_list", count=total, shown=len(items), choices=[*choices, TO_MENU])


@dataclass
class Deciding(Draft):
    """The withdrawal request being decided."""

    KEY = "withdrawal"
    id: int = 0


async def answer_list(ctx: Context, message: Inbound) -> str:
    """A withdrawal goes on to its decision; back returns to the coordinator menu."""
    if message.choice == TO_MENU[0]:
        return COORDINATOR_MENU
    ctx.begin(Deciding(int((message.choice or "").removeprefix("wd:"))))
    return State.DECIDE


async def ask_decide(ctx: Context) -> None:
    item = await withdrawals.details(ctx.session, ctx.draft(Deciding).id)
    if item is None:
        ctx.say("coordwd.gone", choices=[BACK])
        return
    locale = ctx.person.locale
    ctx.say(
        "coordwd.ask_decide",
        who=who(ctx, item),
        bank=item.bank.name,
        amount=rupiah(item.withdrawal.amount, locale),
        when=datetime_short(item.withdrawal.requested_at, locale),
        choices=DECIDE_CHOICES,
    )


async def answer_decide(ctx: Context, message: Inbound) -> str:
    """Checks scope, decides once, audits and tells the resident; back to the list either way."""
    withdrawal_id = ctx.draft(Deciding).id
    ctx.drop(Deciding)
    item = await withdrawals.details(ctx.session, withdrawal_id)
    if message.choice == BACK[0] or item is None:
        return State.LIST
    status = PAID if message.choice == f"dec:{PAID}" else DECLINED
    target = f"withdrawal:{withdrawal_id}"
    if not await permit_bank(ctx, ACTION, item.bank.id, target=target):
        return COORDINATOR_MENU
    result = await withdrawals.decide(ctx.session, withdrawal_id, status, ctx.person.id, ctx.now)
    if isinstance(result, Refusal):
        await audit(ctx.session, ctx.person.id, ACTION, result.reason, ctx.now, target=target, wanted=status)
        ctx.say("coordwd.already", status=ctx.t(STATUS[result.status or status]))
        return State.LIST
    await audit(ctx.session, ctx.person.id, ACTION, status, ctx.now, target=target, amount=result.amount)
    left = await balance(ctx.session, item.account.id)
    ctx.say(DONE[status], who=who(ctx, item), amount=rupiah(result.amount, ctx.person.locale))
    if item.person is not None:
        locale = item.person.locale
        await notify(ctx, item.person, TOLD[status], amount=rupiah(result.amount, locale), bank=item.bank.name,
                     balance=rupiah(left, locale))
    return State.LIST


STEPS = {
    State.LIST: Step(ask_list, answer_list, N_("coordwd.help_list")),
    State.DECIDE: Step(ask_decide, answer_decide, N_("coordwd.help_decide")),
}
