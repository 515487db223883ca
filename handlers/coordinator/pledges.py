"""`Ikrar kolaborator`: pledges to the coordinator's RWs, those awaiting confirmation first, then the
confirmed ones to move along. One is chosen, shown in full, and confirmed, rejected (with a reason),
or marked funds received, works started or works completed. Every move checks the RW on the server,
is audited, and is told to the collaborator; a confirmation brings the payment instructions and the
commitment letter (PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from handlers.collaborator.signup import INDIVIDUAL, TYPE_CHOICES
from handlers.coordinator import COORDINATOR_MENU, access
from handlers.dialog.machine import TEXT, Context, Draft, Raw, Step
from handlers.dialog.notify import notify_person, send_to
from handlers.documents.letter import NO_PAYMENT, LetterFacts, commitment_letter, letter_filename
from handlers.messages import Attachment, Inbound, Reply
from handlers.text.formatting import datetime_short, rupiah, rw_name
from handlers.text.i18n import N_, translate
from storage import places, pledges
from storage.audit import audit
from storage.clock import today
from storage.models import RW, Collaborator, Offer, Person, Pledge, UpgradeRW
from storage.models.roles import UPGRADING
from storage.outbox import NOTIFICATION
from storage.pledges import (
    COMPLETED,
    CONFIRMED,
    EXPIRED,
    IN_PROGRESS,
    NOT_ALLOWED,
    PLEDGED,
    RECEIVED,
    REJECTED,
    Refusal,
)
from storage.roles import scope

ACTION = "upgrading_offers"
SHOWN = 10
REASON_MAX = 200  # the pledge's reason column
TO_MENU = ("cpl:menu", N_("coordpl.to_menu"))
BACK = ("act:back", N_("coordpl.back"))
# What a coordinator may do with a pledge, in the order offered (cancelling and lapsing are not theirs).
MOVES = {
    CONFIRMED: N_("coordpl.confirm"),
    REJECTED: N_("coordpl.reject"),
    RECEIVED: N_("coordpl.mark_received"),
    IN_PROGRESS: N_("coordpl.mark_started"),
    COMPLETED: N_("coordpl.mark_completed"),
}
DONE = {
    CONFIRMED: N_("coordpl.confirmed_done"),
    REJECTED: N_("coordpl.rejected_done"),
    RECEIVED: N_("coordpl.received_done"),
    IN_PROGRESS: N_("coordpl.started_done"),
    COMPLETED: N_("coordpl.completed_done"),
}
TOLD = {
    CONFIRMED: N_("pledgenote.confirmed"),
    REJECTED: N_("pledgenote.rejected"),
    RECEIVED: N_("pledgenote.received"),
    IN_PROGRESS: N_("pledgenote.started"),
    COMPLETED: N_("pledgenote.completed"),
}
LETTER_CAPTION = N_("pledgenote.letter_caption")
ASK_ACTION, ASK_BACK = N_("coordpl.ask_action"), N_("coordpl.ask_back")
LAPSED_NOTE = N_("pledgenote.lapsed")
UNREACHABLE = N_("coordpl.unreachable")
TYPES = {key.removeprefix("ctype:"): label for key, label in TYPE_CHOICES}  # collaborator type labels


class State(StrEnum):
    LIST = "coordpl.list"
    DETAIL = "coordpl.detail"
    REASON = "coordpl.reason"


@dataclass
class ChosenPledge(Draft):
    """The pledge chosen from the list, shown in full and being moved."""

    KEY = "coord_pledge"
    id: int = 0


def chosen_once(ctx: Context) -> int:
    """The chosen pledge's id, forgotten as it is moved."""
    pledge_id = ctx.draft(ChosenPledge).id
    ctx.drop(ChosenPledge)
    return pledge_id


@dataclass(frozen=True)
class PledgeView:
    """A pledge with its place, its RW's listing and who made it (None once erased)."""

    pledge: Pledge
    rw: RW
    upgrade_rw: UpgradeRW
    person: Person | None
    collaborator: Collaborator | None

    @property
    def rw_id(self) -> int:
        return self.rw.id

    @property
    def who(self) -> str:
        """The organisation, else the contact's name; `-` once the person is erased."""
        if self.collaborator is not None:
            return self.collaborator.organisation or self.collaborator.contact_name
        return (self.person.name if self.person else None) or "-"

    def values(self, locale: str) -> dict[str, str]:
        """What every message about the pledge names: reference, RW, kelurahan, package, amount."""
        return {
            "reference": pledges.reference(self.pledge),
            "rw": f"{self.rw.number:03d}",
            "kelurahan": self.rw.kelurahan.name,
            "package": self.pledge.offer.package.name,
            "amount": rupiah(self.pledge.amount, locale),
        }


async def view(session: AsyncSession, pledge_id: int) -> PledgeView | None:
    found = await session.get(
        Pledge, pledge_id, options=[selectinload(Pledge.offer).selectinload(Offer.package)], populate_existing=True
    )
    if found is None:
        return None
    upgrade_rw = await session.get(UpgradeRW, found.offer.rw_id)
    person = await session.get(Person, found.person_id) if found.person_id else None
    collaborator = await session.get(Collaborator, found.person_id) if found.person_id else None
    assert upgrade_rw is not None
    return PledgeView(found, await places.rw(session, found.offer.rw_id), upgrade_rw, person, collaborator)


def hours(delta: timedelta) -> int:
    """Whole hours, as messages name a hold or an age."""
    return int(delta.total_seconds() // 3600)


async def tell_lapsed(session: AsyncSession, now: datetime, pledge_id: int, hold: timedelta) -> bool:
    """Tell the collaborator their unconfirmed pledge lapsed and its amount was released."""
    found = await view(session, pledge_id)
    if found is None or found.person is None:
        return False
    locale = found.person.locale
    return await notify_person(session, now, found.person, LAPSED_NOTE, hours=hours(hold), **found.values(locale))


async def open_list(ctx: Context) -> str:
    """Only for someone who coordinates upgrading (or an admin); goes on to the list."""
    if not await access.permit(ctx, ACTION):
        return COORDINATOR_MENU
    return State.LIST


async def in_scope(ctx: Context) -> tuple[list[Pledge], list[Pledge]]:
    """(awaiting confirmation, under way) in the person's RWs; an admin sees every RW."""
    rw_ids = await scope(ctx.session, ctx.person.id, UPGRADING)
    waiting = await pledges.awaiting_confirmation(ctx.session, ctx.now, rw_ids=rw_ids)
    return waiting, await pledges.under_way(ctx.session, rw_ids=rw_ids)


async def ask_list(ctx: Context) -> None:
    waiting, under_way = await in_scope(ctx)
    if not waiting and not under_way:
        ctx.say("coordpl.none", choices=[TO_MENU])
        return
    locale = ctx.person.locale
    choices = []
    for found in [*waiting, *under_way][:SHOWN]:
        rw = await places.rw(ctx.session, found.offer.rw_id)
        label = " · ".join((rw_name(rw.number, rw.kelurahan.name), found.offer.package.name,
                            rupiah(found.amount, locale), ctx.t(f"pledge.status.{found.status}")))
        choices.append((f"cpl:{found.id}", Raw(label)))
    ctx.say("coordpl.ask_list", waiting=len(waiting), under_way=len(under_way), choices=[*choices, TO_MENU])


async def answer_list(ctx: Context, message: Inbound) -> str:
    if message.choice == TO_MENU[0]:
        return COORDINATOR_MENU
    ctx.begin(ChosenPledge(int((message.choice or "").removeprefix("cpl:"))))
    return State.DETAIL


async def ask_detail(ctx: Context) -> None:
    """Who pledged (the phone only to the RW's own coordinator), where, what, how much, since when,
    and the moves its status allows."""
    found = await view(ctx.session, ctx.draft(ChosenPledge).id)
    if found is None:
        ctx.say("coordpl.gone", choices=[BACK])
        return
    if not await access.permit(ctx, ACTION, [found.rw_id], target=f"pledge:{found.pledge.id}"):
        ctx.say(ASK_BACK, choices=[BACK])
        return
    locale, item = ctx.person.locale, found.pledge
    collaborator = found.collaborator
    lines = [ctx.t(
        "coordpl.details", who=found.who,
        type=ctx.t(TYPES.get(collaborator.type, TYPES[INDIVIDUAL])) if collaborator else "-",
        contact=collaborator.contact_name if collaborator else "-",
        status=ctx.t(f"pledge.status.{item.status}"),
        created=datetime_short(item.created_at, locale),
        **found.values(locale),
    )]
    own = await scope(ctx.session, ctx.person.id, UPGRADING)
    if collaborator is not None and own is not None and found.rw_id in own:
        lines.append(ctx.t("coordpl.details_phone", phone=collaborator.phone))
    if item.status == PLEDGED and item.expires_at is not None:
        lines.append(ctx.t("coordpl.details_expires", expires=datetime_short(item.expires_at, locale)))
    moves = [(f"act:{status}", MOVES[status]) for status in MOVES if status in pledges.NEXT.get(item.status, ())]
    ctx.say_text("\n".join(lines))
    ctx.say(ASK_ACTION if moves else ASK_BACK, choices=[*moves, BACK])


async def answer_detail(ctx: Context, message: Inbound) -> str:
    """A rejection asks its reason first; any other move is made at once; back returns to the list."""
    status = (message.choice or "").removeprefix("act:")
    if status not in MOVES:
        ctx.drop(ChosenPledge)
        return State.LIST
    if status == REJECTED:
        return State.REASON
    return await make_move(ctx, chosen_once(ctx), status, None)


async def ask_reason(ctx: Context) -> None:
    ctx.say("coordpl.ask_reason", limit=REASON_MAX)


async def answer_reason(ctx: Context, message: Inbound) -> str | None:
    reason = " ".join(message.text.split())
    if not reason:
        ctx.say("coordpl.reason_empty")
        return None
    return await make_move(ctx, chosen_once(ctx), REJECTED, reason)


async def make_move(ctx: Context, pledge_id: int, status: str, reason: str | None) -> str:
    """Checks the RW, moves the pledge once, audits, and tells both sides; back to the list."""
    found = await view(ctx.session, pledge_id)
    if found is None:
        ctx.say("coordpl.gone")
        return State.LIST
    target = f"pledge:{pledge_id}"
    if not await access.permit(ctx, ACTION, [found.rw_id], target=target):
        return COORDINATOR_MENU
    result = await pledges.move(ctx.session, pledge_id, status, ctx.person.id, ctx.now, reason)
    values = found.values(ctx.person.locale)
    if isinstance(result, Refusal):
        await audit(ctx.session, ctx.person.id, ACTION, result.reason, ctx.now, target=target, wanted=status)
        await refused(ctx, pledge_id, result, values)
        return State.LIST
    await audit(ctx.session, ctx.person.id, ACTION, status, ctx.now, target=target, amount=result.amount,
                rw=found.rw_id)
    ctx.say(DONE[status], **values)
    if not await tell_collaborator(ctx, await view(ctx.session, pledge_id) or found, status, reason):
        ctx.say(UNREACHABLE)
    return State.LIST


async def refused(ctx: Context, pledge_id: int, refusal: Refusal, values: dict[str, str]) -> None:
    """An expired hold has just lapsed (the collaborator is told); another status cannot move so."""
    if refusal.reason == EXPIRED:
        await tell_lapsed(ctx.session, ctx.now, pledge_id, ctx.terms.hold)
        ctx.say("coordpl.expired", **values)
    elif refusal.reason == NOT_ALLOWED:
        ctx.say("coordpl.not_allowed", status=ctx.t(f"pledge.status.{refusal.status}"), **values)
    else:
        ctx.say("coordpl.gone")


async def tell_collaborator(ctx: Context, found: PledgeView, status: str, reason: str | None) -> bool:
    """The new status in the collaborator's language; a confirmation adds the payment instructions
    and the commitment letter as a document. False when they cannot be reached."""
    person = found.person
    if person is None:
        return False
    locale = person.locale
    values = found.values(locale)
    payment = found.upgrade_rw.payment or translate(locale, NO_PAYMENT)
    if not await notify_person(ctx.session, ctx.now, person, TOLD[status], payment=payment, reason=reason or "-",
                               **values):
        return False
    if status == CONFIRMED:
        letter = commitment_letter(letter_facts(found, ctx.now), locale)
        caption = translate(locale, LETTER_CAPTION, **values)
        await send_to(ctx.session, ctx.now, person,
                      Reply(caption, document=Attachment(letter_filename(values["reference"]), letter),
                            kind=NOTIFICATION))
    return True


def letter_facts(found: PledgeView, now: datetime) -> LetterFacts:
    kecamatan = found.rw.kelurahan.kecamatan
    return LetterFacts(
        reference=pledges.reference(found.pledge),
        collaborator=found.who,
        rw_number=found.rw.number,
        kelurahan=found.rw.kelurahan.name,
        kecamatan=kecamatan.name,
        kota=kecamatan.kota.name,
        package=found.pledge.offer.package.name,
        amount=found.pledge.amount,
        confirmed_on=today(now),
        payment=found.upgrade_rw.payment,
        assumed=found.upgrade_rw.is_sample or found.pledge.offer.assumed,
    )


STEPS = {
    State.LIST: Step(ask_list, answer_list, N_("coordpl.help_list")),
    State.DETAIL: Step(ask_detail, answer_detail, N_("coordpl.help_detail")),
    State.REASON: Step(ask_reason, answer_reason, N_("coordpl.help_reason"), accepts=TEXT, max_text=REASON_MAX),
}
