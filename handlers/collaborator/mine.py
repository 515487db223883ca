"""`Ikrar saya`: the person's latest pledges and gifts of savings with their status and the offer's
progress; a pledge still waiting for confirmation can be cancelled (its amount is released at once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from handlers.dialog.machine import MENU, Context, Draft, Raw, Step
from handlers.messages import Inbound
from handlers.text.formatting import datetime_short, progress_bar, rupiah
from handlers.text.i18n import N_
from storage import places, pledges
from storage.audit import audit
from storage.models import Pledge

LATEST = 10
STATUS_LABELS = {
    pledges.PLEDGED: N_("pledge.status.pledged"),
    pledges.CONFIRMED: N_("pledge.status.confirmed"),
    pledges.RECEIVED: N_("pledge.status.received"),
    pledges.IN_PROGRESS: N_("pledge.status.in_progress"),
    pledges.COMPLETED: N_("pledge.status.completed"),
    pledges.CANCELLED: N_("pledge.status.cancelled"),
    pledges.LAPSED: N_("pledge.status.lapsed"),
    pledges.REJECTED: N_("pledge.status.rejected"),
}
BACK = ("mine:back", N_("mine.back"))
CONFIRM_CHOICES = (("mine:cancel_yes", N_("mine.cancel_yes")), ("mine:cancel_no", N_("mine.cancel_no")))
REFUSALS = {pledges.EXPIRED: N_("mine.cancel_expired"), pledges.NOT_ALLOWED: N_("mine.cancel_not_allowed")}


class State(StrEnum):
    LIST = "mine.list"
    CONFIRM = "mine.confirm"


@dataclass
class Cancelling(Draft):
    """The pledge chosen to be cancelled."""

    KEY = "my_pledges"
    pledge: int | None = None


async def has_pledges(ctx: Context) -> bool:
    """Shown in the menu to people with at least one pledge or gift."""
    return await pledges.has_pledges(ctx.session, ctx.person.id)


def status_of(found: Pledge, ctx: Context) -> str:
    """The status as the person should see it: a hold past its expiry has lapsed, whatever the
    scheduler has done yet."""
    if found.status == pledges.PLEDGED and found.expires_at is not None and found.expires_at <= ctx.now:
        return pledges.LAPSED
    return found.status


def cancellable(found: Pledge, ctx: Context) -> bool:
    return found.source == pledges.PLEDGE and status_of(found, ctx) == pledges.PLEDGED


async def latest(ctx: Context) -> tuple[list[Pledge], int]:
    """The person's latest pledges and gifts, and how many there are in all."""
    everything = await pledges.of_person(ctx.session, ctx.person.id)
    return everything[:LATEST], len(everything)


async def begin(ctx: Context) -> str:
    """Shows the list; with something to cancel the list offers it, otherwise back to the menu."""
    ctx.drop(Cancelling)
    shown, total = await latest(ctx)
    if any(cancellable(found, ctx) for found in shown):
        return State.LIST
    await show_list(ctx, shown, total)
    return MENU


async def about(ctx: Context, found: Pledge) -> dict[str, str]:
    """What every message about a pledge names: reference, package, RW (`012`), kelurahan, amount."""
    rw = await places.rw(ctx.session, found.offer.rw_id)
    return {"reference": pledges.reference(found), "package": found.offer.package.name, "rw": f"{rw.number:03d}",
            "kelurahan": rw.kelurahan.name, "amount": rupiah(found.amount, ctx.person.locale)}


async def progress_of(ctx: Context, found: Pledge, cache: dict[int, list[pledges.OfferState]]) -> str:
    """The funding bar of the pledge's offer now (`▓▓▓▓▓▓░░░░ 60%`)."""
    rw_id = found.offer.rw_id
    if rw_id not in cache:
        cache[rw_id] = await pledges.offer_states(ctx.session, rw_id, ctx.now)
    state = next((s for s in cache[rw_id] if s.offer.id == found.offer_id), None)
    if state is None or not state.offer.target:
        return ""
    return ctx.t("mine.progress", bar=progress_bar(Fraction(state.pledged, state.offer.target)))


async def describe(ctx: Context, found: Pledge, cache: dict[int, list[pledges.OfferState]]) -> str:
    """One pledge or gift as a few short lines."""
    values = await about(ctx, found)
    if found.source == pledges.SEDEKAH:
        lines = [ctx.t("mine.item_sedekah", **values)]
    else:
        status = status_of(found, ctx)
        lines = [ctx.t("mine.item", status=ctx.t(STATUS_LABELS.get(status, N_("pledge.status.pledged"))), **values)]
        if status == pledges.PLEDGED and found.expires_at is not None:
            lines.append(ctx.t("mine.hold_until", until=datetime_short(found.expires_at, ctx.person.locale)))
        if status in (pledges.REJECTED, pledges.CANCELLED) and found.reason:
            lines.append(ctx.t("mine.reason", reason=found.reason))
    lines.append(await progress_of(ctx, found, cache))
    return "\n".join(line for line in lines if line)


async def show_list(ctx: Context, shown: list[Pledge], total: int, choices: Sequence[tuple[str, str]] = ()) -> None:
    """The latest pledges in one message (saying so when there are more)."""
    if not shown:
        ctx.say("mine.empty")
        return
    cache: dict[int, list[pledges.OfferState]] = {}
    header = ctx.t("mine.header_latest", shown=len(shown), total=total) if total > len(shown) else ctx.t("mine.header")
    items = [await describe(ctx, found, cache) for found in shown]
    ctx.say_text("\n\n".join([header, *items]), choices=choices)


async def ask_list(ctx: Context) -> None:
    """The list, offering to cancel each pledge still waiting for confirmation."""
    shown, total = await latest(ctx)
    choices: list[tuple[str, str]] = [
        (f"mine:{found.id}", Raw(ctx.t("mine.cancel_label", reference=pledges.reference(found))))
        for found in shown if cancellable(found, ctx)
    ]
    await show_list(ctx, shown, total, [*choices, BACK])


async def answer_list(ctx: Context, message: Inbound) -> str:
    """A pledge chosen for cancelling goes to the confirmation; back goes to the menu."""
    if message.choice == BACK[0]:
        return MENU
    ctx.begin(Cancelling(int((message.choice or "").removeprefix("mine:"))))
    return State.CONFIRM if await cancellable_now(ctx) else MENU


async def own_pledge(ctx: Context) -> Pledge | None:
    """The pledge being cancelled, locked, if it is the person's own pledge (not a gift)."""
    wanted = ctx.draft(Cancelling).pledge
    found = await pledges.lock_pledge(ctx.session, wanted) if wanted is not None else None
    if found is None or found.person_id != ctx.person.id or found.source != pledges.PLEDGE:
        return None
    return found


async def cancellable_now(ctx: Context) -> Pledge | None:
    """The person's own pledge if it can still be cancelled by them (only while it waits for
    confirmation); otherwise says why not and forgets it."""
    found = await own_pledge(ctx)
    if found is None:
        ctx.say("mine.not_found")
    elif found.status != pledges.PLEDGED:
        ctx.say("mine.cancel_not_allowed", status=ctx.t(STATUS_LABELS[found.status]))
    else:
        return found
    ctx.drop(Cancelling)
    return None


async def ask_confirm(ctx: Context) -> None:
    found = await own_pledge(ctx)
    if found is None:
        return
    ctx.say("mine.ask_cancel", choices=CONFIRM_CHOICES, **await about(ctx, found))


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Cancels the person's own pledge and shows the offer's bar now; refusals say why."""
    if message.choice != CONFIRM_CHOICES[0][0]:
        ctx.drop(Cancelling)
        ctx.say("cancel.done")
        return MENU
    found = await cancellable_now(ctx)
    ctx.drop(Cancelling)
    if found is None:
        return MENU
    result = await pledges.move(ctx.session, found.id, pledges.CANCELLED, by=ctx.person.id, now=ctx.now)
    if isinstance(result, pledges.Refusal):
        await audit(ctx.session, ctx.person.id, "cancel_pledge", result.reason, ctx.now, target=f"pledge:{found.id}")
        label = STATUS_LABELS.get(result.status or "", N_("pledge.status.pledged"))
        ctx.say(REFUSALS.get(result.reason, N_("mine.not_found")), status=ctx.t(label))
        return MENU
    await audit(ctx.session, ctx.person.id, "cancel_pledge", "cancelled", ctx.now, target=f"pledge:{found.id}",
                amount=found.amount)
    ctx.say("mine.cancelled", reference=pledges.reference(found), amount=rupiah(found.amount, ctx.person.locale))
    ctx.say_text(await describe(ctx, found, {}))
    return MENU


STEPS = {
    State.LIST: Step(ask_list, answer_list, N_("mine.help_list")),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("mine.help_confirm")),
}
