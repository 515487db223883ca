"""`Kabar penataan`: news of an RW's works for everyone who pledged to it. The coordinator picks one
of their RWs (skipped when they have one), writes the text, adds a photo or skips it, sees a preview
with the number of collaborators it reaches, and sends it: stored as a `ProgressUpdate` and queued
through the outbox, each in the collaborator's own language."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.coordinator import COORDINATOR_MENU, access
from handlers.dialog.machine import TEXT, Context, Draft, Raw, Step
from handlers.dialog.notify import send_to
from handlers.messages import Inbound, Kind, Reply
from handlers.text.formatting import number, rw_name
from handlers.text.i18n import N_, translate
from storage import places, pledges
from storage.audit import audit
from storage.models import Person, ProgressUpdate
from storage.models.roles import UPGRADING
from storage.outbox import BROADCAST, Priority
from storage.roles import scope

ACTION = "upgrading_offers"
MAX_TEXT = 800  # leaves room for the frame within a photo caption (1,024 characters on Telegram)
SHOWN = 10
SKIP_PHOTO = ("prog:skip", N_("coordprog.skip_photo"))
CONFIRM_CHOICES = (("prog:send", N_("coordprog.send")), ("prog:cancel", N_("coordprog.cancel")))
NOTICE = N_("coordprog.notice")
ASK_CONFIRM = {True: N_("coordprog.ask_confirm_photo"), False: N_("coordprog.ask_confirm")}
PHOTO_OR_CHOICE = frozenset({Kind.PHOTO, Kind.CHOICE})


class State(StrEnum):
    RW = "coordprog.rw"
    TEXT = "coordprog.text"
    PHOTO = "coordprog.photo"
    CONFIRM = "coordprog.confirm"


@dataclass
class ProgressDraft(Draft):
    """The update being written, kept in the conversation until sent or cancelled."""

    KEY = "progress"
    rw: int | None = None  # the RW whose pledgers hear of it
    text: str | None = None
    photo: str | None = None  # `channel:file reference`; none when skipped


async def rws_with_news(ctx: Context) -> list[int]:
    """The person's RWs (an admin: every RW) that someone pledged to."""
    return await pledges.pledged_rws(ctx.session, await scope(ctx.session, ctx.person.id, UPGRADING))


async def rw_label(ctx: Context, rw_id: int) -> str:
    rw = await places.rw(ctx.session, rw_id)
    return rw_name(rw.number, rw.kelurahan.name)


async def begin(ctx: Context) -> str:
    """Only for an upgrading coordinator (or an admin) whose RWs have pledgers; one RW is chosen at once."""
    ctx.drop(ProgressDraft)
    if not await access.permit(ctx, ACTION):
        return COORDINATOR_MENU
    found = await rws_with_news(ctx)
    if not found:
        ctx.say("coordprog.no_pledgers")
        return COORDINATOR_MENU
    if len(found) == 1:
        ctx.begin(ProgressDraft(rw=found[0]))
        return State.TEXT
    return State.RW


async def ask_rw(ctx: Context) -> None:
    found = (await rws_with_news(ctx))[:SHOWN]
    ctx.say("coordprog.ask_rw", choices=[(f"rw:{rw_id}", Raw(await rw_label(ctx, rw_id))) for rw_id in found])


async def answer_rw(ctx: Context, message: Inbound) -> str:
    ctx.draft(ProgressDraft).rw = int((message.choice or "").removeprefix("rw:"))
    return State.TEXT


async def ask_text(ctx: Context) -> None:
    rw = await rw_label(ctx, ctx.draft(ProgressDraft).rw)
    ctx.say("coordprog.ask_text", rw=rw, limit=number(MAX_TEXT, ctx.person.locale))


async def answer_text(ctx: Context, message: Inbound) -> str | None:
    text = message.text.strip()
    if not text:
        ctx.say("coordprog.text_empty")
        return None
    ctx.draft(ProgressDraft).text = text
    return State.PHOTO


async def ask_photo(ctx: Context) -> None:
    ctx.say("coordprog.ask_photo", choices=[SKIP_PHOTO])


async def answer_photo(ctx: Context, message: Inbound) -> str:
    photo = f"{message.channel}:{message.photo}" if message.kind is Kind.PHOTO and message.photo else None
    ctx.draft(ProgressDraft).photo = photo
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The news as it will arrive, and to how many collaborators."""
    composed = ctx.draft(ProgressDraft)
    count = len(await pledges.pledgers(ctx.session, composed.rw))
    ctx.say("coordprog.preview", rw=await rw_label(ctx, composed.rw), count=number(count, ctx.person.locale),
            text=composed.text)
    ctx.say(ASK_CONFIRM[bool(composed.photo)], choices=CONFIRM_CHOICES)


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Sends (checking the RW once more) or drops the draft; back to the coordinator menu."""
    composed = ctx.draft(ProgressDraft)
    ctx.drop(ProgressDraft)
    if message.choice != CONFIRM_CHOICES[0][0]:
        ctx.say("coordprog.cancelled")
        return COORDINATOR_MENU
    rw_id = composed.rw
    if not await access.permit(ctx, ACTION, [rw_id], target=f"rw:{rw_id}"):
        return COORDINATOR_MENU
    update = ProgressUpdate(rw_id=rw_id, text=composed.text, photo=composed.photo, posted_by=ctx.person.id,
                            posted_at=ctx.now)
    ctx.session.add(update)
    await ctx.session.flush()
    reached = await send_update(ctx, update)
    await audit(ctx.session, ctx.person.id, ACTION, "progress_update", ctx.now, target=f"rw:{rw_id}",
                update=update.id, reached=reached)
    ctx.say("coordprog.sent", count=number(reached, ctx.person.locale))
    return COORDINATOR_MENU


async def send_update(ctx: Context, update: ProgressUpdate) -> int:
    """One bulk message per pledger who has not opted out, in their language; how many were queued.
    The photo goes as the platform's own file reference, so it reaches pledgers on the channel it was
    sent from (others get the text)."""
    rw = await places.rw(ctx.session, update.rw_id)
    reached = 0
    for person_id in await pledges.pledgers(ctx.session, update.rw_id):
        person = await ctx.session.get(Person, person_id)
        if person is None or person.opted_out_at is not None:
            continue
        text = translate(person.locale, NOTICE, rw=f"{rw.number:03d}", kelurahan=rw.kelurahan.name, text=update.text)
        reply = Reply(text, kind=BROADCAST, photo_ref=update.photo)
        reached += await send_to(ctx.session, ctx.now, person, reply, Priority.BULK)
    return reached


STEPS = {
    State.RW: Step(ask_rw, answer_rw, N_("coordprog.help")),
    State.TEXT: Step(ask_text, answer_text, N_("coordprog.help"), accepts=TEXT, max_text=MAX_TEXT),
    State.PHOTO: Step(ask_photo, answer_photo, N_("coordprog.help"), accepts=PHOTO_OR_CHOICE),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("coordprog.help")),
}
