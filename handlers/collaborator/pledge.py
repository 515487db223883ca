"""Pledging to an open offer chosen while browsing: sign-up first for someone new; a shared (Bersama)
offer asks the amount, one taken whole (Utama, Lengkap) goes straight to the summary; once confirmed
the amount is held for the RW's upgrading coordinators to confirm. An offer taken or filled while the
collaborator was reading is explained, and the RW is shown again with what is still open."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from handlers.collaborator import browse, signup
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Step
from handlers.dialog.notify import notify
from handlers.dialog.parsing import NEGATIVE, TOO_MUCH, ZERO, ParseError, parse_amount
from handlers.messages import Inbound
from handlers.text.formatting import progress_bar, rupiah
from handlers.text.i18n import N_
from storage import places, pledges
from storage.audit import audit
from storage.models import RW, Collaborator, Offer, Person, Pledge
from storage.models.roles import UPGRADING
from storage.pledges import (
    ABOVE_REMAINING,
    ALTERNATIVE_TAKEN,
    BELOW_MINIMUM,
    CLOSED,
    FULL,
    NOT_FOUND,
    TAKEN,
    OfferState,
    Refusal,
)
from storage.roles import coordinators_of

CONFIRM_CHOICES = (("pledge:yes", N_("pledge.yes")), ("pledge:no", N_("pledge.no")))
PARSE_REFUSALS = {ZERO: N_("pledge.amount_zero"), NEGATIVE: N_("pledge.amount_negative")}
AMOUNT_INVALID = N_("pledge.amount_invalid")
SUMMARY_SHARED, SUMMARY_WHOLE = N_("pledge.ask_confirm"), N_("pledge.ask_confirm_whole")
CHANGED = N_("pledge.changed")
COORDINATOR_NOTICE = N_("pledge.coordinator_notice")
REFUSED = {
    TAKEN: N_("pledge.taken"),
    ALTERNATIVE_TAKEN: N_("pledge.alternative_taken"),
    FULL: N_("pledge.full"),
    CLOSED: N_("pledge.closed"),
}


class State(StrEnum):
    AMOUNT = "pledge.amount"
    CONFIRM = "pledge.confirm"


@dataclass
class PledgeDraft(Draft):
    """The offer being pledged to and the amount once known; it survives sign-up."""

    KEY = "pledge"
    offer: int = 0
    amount: int | None = None  # rupiah: typed for a shared offer, the whole target for one taken whole


async def chosen(ctx: Context) -> tuple[OfferState, RW] | None:
    """The chosen offer as it stands now, and its RW (with its place); None when it is gone."""
    offer = await ctx.session.get(Offer, ctx.draft(PledgeDraft).offer)
    if offer is None:
        return None
    state = next((s for s in await pledges.offer_states(ctx.session, offer.rw_id, ctx.now) if s.offer.id == offer.id),
                 None)
    return None if state is None else (state, await places.rw(ctx.session, offer.rw_id))


def where(rw: RW) -> str:
    """`Kebon Melati RW 014, Jakarta Pusat`."""
    return f"{browse.rw_name(rw.kelurahan.name, rw.number)}, {places.short_kota(rw.kelurahan.kecamatan.kota.name)}"


def hold_hours(ctx: Context) -> int:
    return int(ctx.terms.hold.total_seconds() // 3600)


async def begin(ctx: Context, offer_id: int) -> str:
    """Keeps the offer; sign-up first when the person is not a collaborator yet, then the amount
    (shared offers) or the summary (offers taken whole). A closed offer is explained instead."""
    ctx.begin(PledgeDraft(offer_id))
    found = await chosen(ctx)
    if found is None or not found[0].open:
        return await refused(ctx, Refusal(found[0].closed or CLOSED) if found else Refusal(NOT_FOUND))
    then = State.AMOUNT if found[0].offer.package.shared else State.CONFIRM
    if not await signup.is_collaborator(ctx):
        return signup.start(ctx, then=then)
    return then


# --- Amount (shared offers) ---------------------------------------------------------------------


async def ask_amount(ctx: Context) -> None:
    """The question states the smallest share and what remains."""
    found = await chosen(ctx)
    if found is None:
        ctx.say("pledge.gone")
        return
    state, rw = found
    locale = ctx.person.locale
    ctx.say("pledge.ask_amount", package=state.offer.package.name, rw=where(rw),
            minimum=rupiah(pledges.minimum_share(state, ctx.terms.min_share), locale),
            remaining=rupiah(state.remaining, locale))


async def answer_amount(ctx: Context, message: Inbound) -> str | None:
    """Keeps an amount between the smallest share and what remains (on to the summary); anything else
    is refused with the numbers, and the question stays."""
    found = await chosen(ctx)
    if found is None or not found[0].open:
        return await refused(ctx, Refusal(found[0].closed or CLOSED) if found else Refusal(NOT_FOUND))
    state = found[0]
    locale = ctx.person.locale
    minimum = pledges.minimum_share(state, ctx.terms.min_share)
    try:
        amount = parse_amount(message.text)
    except ParseError as error:
        if error.reason == TOO_MUCH:
            ctx.say("pledge.amount_absurd", remaining=rupiah(state.remaining, locale))
        else:
            ctx.say(PARSE_REFUSALS.get(error.reason, AMOUNT_INVALID), minimum=rupiah(minimum, locale))
        return None
    if amount > state.remaining:
        ctx.say("pledge.above_remaining", amount=rupiah(amount, locale), remaining=rupiah(state.remaining, locale))
        return None
    if amount < minimum:
        ctx.say("pledge.below_minimum", amount=rupiah(amount, locale), minimum=rupiah(minimum, locale))
        return None
    ctx.draft(PledgeDraft).amount = amount
    return State.CONFIRM


# --- Summary and confirmation -------------------------------------------------------------------


async def ask_confirm(ctx: Context) -> None:
    """RW, package, amount (the whole target for an offer taken whole), the 72-hour hold; Ya/Batal."""
    found = await chosen(ctx)
    if found is None:
        ctx.say("pledge.gone", choices=[CONFIRM_CHOICES[1]])
        return
    state, rw = found
    draft = ctx.draft(PledgeDraft)
    if not state.offer.package.shared:
        draft.amount = state.offer.target  # what the summary shows is what is pledged
    ctx.say(SUMMARY_SHARED if state.offer.package.shared else SUMMARY_WHOLE,
            rw=where(rw), package=state.offer.package.name, amount=rupiah(draft.amount, ctx.person.locale),
            hours=hold_hours(ctx), choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Holds the amount, says so with the reference and the progress, tells the RW's coordinators
    (then the menu); a refusal is explained. Batal goes back to the RW."""
    amount = ctx.draft(PledgeDraft).amount
    found = await chosen(ctx)
    if message.choice != "pledge:yes":
        ctx.drop(PledgeDraft)
        ctx.say("pledge.not_sent")
        return browse.open_rw(ctx, found[1].id) if found else browse.State.KOTA
    if found is None or amount is None:
        return await refused(ctx, Refusal(NOT_FOUND))
    state, rw = found
    result = await pledges.pledge(ctx.session, ctx.person.id, state.offer.id, amount, ctx.now,
                                  hold=ctx.terms.hold, min_share=ctx.terms.min_share)
    if isinstance(result, Refusal):
        await audit(ctx.session, ctx.person.id, "pledge", result.reason, ctx.now, target=f"offer:{state.offer.id}",
                    amount=amount)
        return await refused(ctx, result)
    ctx.drop(PledgeDraft)
    await audit(ctx.session, ctx.person.id, "pledge", "held", ctx.now, target=f"pledge:{result.id}",
                amount=result.amount)
    await say_recorded(ctx, result, rw)
    await tell_coordinators(ctx, result, rw)
    return MENU


async def say_recorded(ctx: Context, held: Pledge, rw: RW) -> None:
    """The reference number, the hold, and (for a shared offer) the progress bar now."""
    locale = ctx.person.locale
    values = {"reference": pledges.reference(held), "package": held.offer.package.name, "rw": where(rw),
              "amount": rupiah(held.amount, locale), "hours": hold_hours(ctx)}
    if not held.offer.package.shared:
        ctx.say("pledge.recorded_whole", **values)
        return
    state = next(s for s in await pledges.offer_states(ctx.session, rw.id, ctx.now) if s.offer.id == held.offer_id)
    ctx.say("pledge.recorded", **values, pledged=rupiah(state.pledged, locale),
            target=rupiah(state.offer.target, locale), bar=progress_bar(Fraction(state.pledged, state.offer.target)))


async def tell_coordinators(ctx: Context, held: Pledge, rw: RW) -> None:
    """The RW's upgrading coordinators hear of the pledge waiting for them (a name, never a phone)."""
    profile = await ctx.session.get(Collaborator, ctx.person.id)
    who = (profile.organisation or profile.contact_name) if profile else (ctx.person.name or "-")
    for person_id in await coordinators_of(ctx.session, rw.id, UPGRADING):
        coordinator = await ctx.session.get(Person, person_id)
        if coordinator is None or coordinator.id == ctx.person.id:
            continue
        await notify(ctx, coordinator, COORDINATOR_NOTICE, who=who, package=held.offer.package.name,
                     rw=where(rw), amount=rupiah(held.amount, coordinator.locale), reference=pledges.reference(held),
                     hours=hold_hours(ctx))


# --- When the offer changed meanwhile -----------------------------------------------------------


async def refused(ctx: Context, refusal: Refusal) -> str:
    """Says what happened. Less left than asked: the amount again. Taken, filled or closed: the RW
    again, with what is still open. Gone: back to the list."""
    found = await chosen(ctx)
    locale = ctx.person.locale
    if found is None or refusal.reason == NOT_FOUND:
        ctx.drop(PledgeDraft)
        ctx.say("pledge.gone")
        return browse.State.LIST if ctx.draft(browse.Browsing).has_list else browse.State.KOTA
    state, rw = found
    if refusal.reason in (ABOVE_REMAINING, BELOW_MINIMUM) and state.open:
        ctx.say("pledge.remaining_changed", remaining=rupiah(state.remaining, locale))
        return State.AMOUNT
    ctx.drop(PledgeDraft)
    ctx.say(REFUSED.get(state.closed or refusal.reason, CHANGED), package=state.offer.package.name)
    return browse.open_rw(ctx, rw.id)


STEPS = {
    State.AMOUNT: Step(ask_amount, answer_amount, N_("pledge.help_amount"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("pledge.help_confirm")),
}
