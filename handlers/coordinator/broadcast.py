"""`Kirim siaran`: compose a text, choose who receives it (a coordinator: the residents of their RWs;
an admin: a kelurahan, a kota or everyone), preview it with the number of people it reaches, then
send it now or at a time given. A broadcast to a whole kota or to everyone waits for a second admin,
who approves or rejects it under `Setujui siaran`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import place_pick
from handlers.coordinator import COORDINATOR_MENU, access
from handlers.dialog.machine import TEXT, Context, Draft, Raw, Step
from handlers.dialog.notify import notify, notify_person
from handlers.dialog.parsing import IN_THE_PAST, TOO_FAR, ParseError, parse_schedule_time
from handlers.messages import Inbound
from handlers.text.formatting import datetime_short, number, rupiah, rw_name
from handlers.text.i18n import N_, translate
from storage import broadcasts, places
from storage.audit import audit
from storage.broadcasts import (
    ALL,
    APPROVED,
    AWAITING,
    COLLABORATORS,
    GONE,
    KELURAHAN,
    KOTA,
    MAX_TEXT,
    OWN,
    PLEDGERS,
    RWS,
)
from storage.models import Broadcast, Person
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.roles import scope

ACTIONS = {RWS: "broadcast_rws", KELURAHAN: "broadcast_kelurahan", KOTA: "broadcast_kota", ALL: "broadcast_all",
           PLEDGERS: "broadcast_pledgers", COLLABORATORS: "broadcast_collaborators"}
APPROVE = "approve_broadcast"
SHOWN = 10
LISTED_RWS = 3
TYPED_MAX = 100_000  # longer than any platform allows; the text step says what the limit is

SEGMENT_RWS = ("seg:rws", N_("broadcast.segment_rws"))
SEGMENT_PLEDGERS = ("seg:pledgers", N_("broadcast.segment_pledgers"))
SEGMENTS_ADMIN = (
    ("seg:kelurahan", N_("broadcast.segment_kelurahan")),
    ("seg:kota", N_("broadcast.segment_kota")),
    ("seg:all", N_("broadcast.segment_all")),
    ("seg:collaborators", N_("broadcast.segment_collaborators")),
)
CONFIRM_CHOICES = (
    ("bc:now", N_("broadcast.send_now")),
    ("bc:schedule", N_("broadcast.send_later")),
    ("bc:cancel", N_("broadcast.cancel")),
)
TO_MENU = ("bca:menu", N_("broadcast.to_menu"))
DECIDE_CHOICES = (("dec:approve", N_("broadcast.approve")), ("dec:reject", N_("broadcast.reject")), TO_MENU)
SCHEDULE_ERRORS = {IN_THE_PAST: N_("broadcast.when_past"), TOO_FAR: N_("broadcast.when_too_far")}
WHEN_INVALID = N_("broadcast.when_invalid")
ASK_CONFIRM = {True: N_("broadcast.ask_confirm_approval"), False: N_("broadcast.ask_confirm")}
SUBMITTED = {True: N_("broadcast.awaiting_approval"), False: N_("broadcast.no_other_admin")}
APPROVAL_NEEDED = N_("broadcast.approval_needed")
APPROVED_NOTE, REJECTED_NOTE = N_("broadcast.approved_note"), N_("broadcast.rejected_note")


class State(StrEnum):
    TEXT = "broadcast.text"
    SEGMENT = "broadcast.segment"
    KOTA = "broadcast.kota"
    KELURAHAN = "broadcast.kelurahan"
    PICK = "broadcast.pick"
    CONFIRM = "broadcast.confirm"
    WHEN = "broadcast.when"
    CHOOSE = "broadcast.choose"
    DECIDE = "broadcast.decide"


@dataclass
class Composing(Draft):
    """The broadcast being composed, kept in the conversation until sent or cancelled."""

    KEY = "broadcast"
    text: str = ""
    segment: dict[str, Any] = field(default_factory=dict)  # who it reaches (storage/broadcasts.py)
    count: int = 0  # how many people, counted once for the preview
    matches: list[str] = field(default_factory=list)  # kelurahan codes a typed name matched


@dataclass
class Approving(Draft):
    """The broadcast another admin made, being approved or rejected."""

    KEY = "approving"
    id: int = 0


def draft(ctx: Context) -> Composing:
    return ctx.draft(Composing)


async def my_rws(ctx: Context, strand: str = WASTE) -> list[int]:
    """The RWs this person coordinates in a strand."""
    if COORDINATOR not in ctx.roles:
        return []
    return sorted(await scope(ctx.session, ctx.person.id, strand) or ())


async def segment_choices(ctx: Context) -> list[tuple[str, str]]:
    """The segments this person may reach: the residents of their waste RWs, the collaborators of
    their upgrading RWs; a kelurahan, a kota, all residents or all collaborators for admins."""
    choices = [SEGMENT_RWS] if await my_rws(ctx) else []
    choices += [SEGMENT_PLEDGERS] if await my_rws(ctx, UPGRADING) else []
    return choices + list(SEGMENTS_ADMIN) if ADMIN in ctx.roles else choices


async def permit_segment(ctx: Context, segment: dict[str, Any]) -> bool:
    return await access.permit(ctx, ACTIONS[segment["kind"]], segment.get("rws", ()))


async def describe(session: AsyncSession, segment: dict[str, Any], locale: str) -> str:
    """`warga RW 012 Kebon Melati`, `warga Kelurahan Kebon Melati`, `warga Jakarta Pusat`, `semua warga`."""
    kind = segment["kind"]
    if kind in (RWS, PLEDGERS):
        shown = [await places.rw(session, rw_id) for rw_id in segment["rws"][:LISTED_RWS]]
        names = ", ".join(rw_name(rw.number, rw.kelurahan.name) for rw in shown)
        more = len(segment["rws"]) - LISTED_RWS
        if kind == PLEDGERS and more > 0:
            return translate(locale, "broadcast.to_pledgers_more", rws=names, more=more)
        if kind == PLEDGERS:
            return translate(locale, "broadcast.to_pledgers", rws=names)
        if more > 0:
            return translate(locale, "broadcast.to_rws_more", rws=names, more=more)
        return translate(locale, "broadcast.to_rws", rws=names)
    if kind == COLLABORATORS:
        return translate(locale, "broadcast.to_collaborators")
    if kind == KELURAHAN:
        kelurahan = await places.kelurahan(session, segment["code"])
        return translate(locale, "broadcast.to_kelurahan", name=kelurahan.name if kelurahan else segment["code"])
    if kind == KOTA:
        kota = {k.code: k.name for k in await places.all_kota(session)}.get(segment["code"], segment["code"])
        return translate(locale, "broadcast.to_kota", name=places.short_kota(kota))
    return translate(locale, "broadcast.to_all")


async def begin(ctx: Context) -> str:
    """Only someone with a segment to reach may compose; the text comes first."""
    ctx.drop(Composing)
    if not await segment_choices(ctx):
        await access.permit(ctx, ACTIONS[RWS])
        return COORDINATOR_MENU
    return State.TEXT


async def ask_text(ctx: Context) -> None:
    ctx.say("broadcast.ask_text", limit=number(MAX_TEXT, ctx.person.locale))


async def answer_text(ctx: Context, message: Inbound) -> str | None:
    """Keeps a text of 1 to 4,000 characters; goes on to the segment (straight to the preview when
    the person can reach only their RWs)."""
    text = message.text.strip()
    if not text:
        ctx.say("broadcast.text_empty")
        return None
    if len(text) > MAX_TEXT:
        locale = ctx.person.locale
        ctx.say("broadcast.text_too_long", length=number(len(text), locale), limit=number(MAX_TEXT, locale))
        return None
    draft(ctx).text = text
    choices = await segment_choices(ctx)
    return await choose_segment(ctx, choices[0][0]) if len(choices) == 1 else State.SEGMENT


async def ask_segment(ctx: Context) -> None:
    ctx.say("broadcast.ask_segment", choices=await segment_choices(ctx))


async def answer_segment(ctx: Context, message: Inbound) -> str:
    return await choose_segment(ctx, message.choice or "")


async def choose_segment(ctx: Context, choice: str) -> str:
    """The RWs and everyone go to the preview; a kelurahan or a kota is asked for first."""
    if choice == SEGMENT_RWS[0]:
        return await preview(ctx, broadcasts.segment_rws(await my_rws(ctx)))
    if choice == SEGMENT_PLEDGERS[0]:
        return await preview(ctx, broadcasts.segment_pledgers(await my_rws(ctx, UPGRADING)))
    if choice == "seg:collaborators":
        return await preview(ctx, broadcasts.segment_collaborators())
    if choice == "seg:kelurahan":
        return State.KELURAHAN
    if choice == "seg:kota":
        return State.KOTA
    return await preview(ctx, broadcasts.segment_all())


async def ask_kota(ctx: Context) -> None:
    kota = await places.all_kota(ctx.session)
    ctx.say("broadcast.ask_kota", choices=[(f"kota:{k.code}", Raw(places.short_kota(k.name))) for k in kota])


async def answer_kota(ctx: Context, message: Inbound) -> str:
    return await preview(ctx, broadcasts.segment_place(KOTA, (message.choice or "").removeprefix("kota:")))


async def ask_kelurahan(ctx: Context) -> None:
    ctx.say("broadcast.ask_kelurahan")


async def answer_kelurahan(ctx: Context, message: Inbound) -> str | None:
    """A typed name, typos forgiven: the matches are offered, or the person is told none matched."""
    codes = await place_pick.search(ctx, message.text)
    if not codes:
        return None
    draft(ctx).matches = codes
    return State.PICK


async def ask_pick(ctx: Context) -> None:
    await place_pick.offer(ctx, N_("register.ask_pick"), draft(ctx).matches)


async def answer_pick(ctx: Context, message: Inbound) -> str | None:
    if code := place_pick.chosen(message):
        draft(ctx).matches = []
        return await preview(ctx, broadcasts.segment_place(KELURAHAN, code))
    return await answer_kelurahan(ctx, message)


async def preview(ctx: Context, segment: dict[str, Any]) -> str:
    """Keeps the segment if the person may reach it and it reaches anyone; goes on to the preview."""
    if not await permit_segment(ctx, segment):
        ctx.drop(Composing)
        return COORDINATOR_MENU
    count = await broadcasts.count_recipients(ctx.session, segment)
    if not count:
        ctx.say("broadcast.no_recipients", segment=await describe(ctx.session, segment, ctx.person.locale))
        ctx.drop(Composing)
        return COORDINATOR_MENU
    draft(ctx).segment, draft(ctx).count = segment, count  # counted once: a kota or the whole city takes a second
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The text as it will arrive, for whom, and to how many people (one each, opted-out left out)."""
    segment, locale = draft(ctx).segment, ctx.person.locale
    count = draft(ctx).count or await broadcasts.count_recipients(ctx.session, segment)
    segment_text = await describe(ctx.session, segment, locale)
    ctx.say("broadcast.preview", segment=segment_text, count=number(count, locale), text=draft(ctx).text)
    await say_template_cost(ctx, segment)
    ctx.say(ASK_CONFIRM[segment["kind"] in broadcasts.NEEDS_APPROVAL], choices=CONFIRM_CHOICES)


async def say_template_cost(ctx: Context, segment: dict[str, Any]) -> None:
    """How many WhatsApp recipients are outside the 24-hour window: they get the broadcast template at
    an estimated cost, or, without one, not at all."""
    closed = await broadcasts.outside_window(ctx.session, segment, ctx.now)
    if not closed:
        return
    locale = ctx.person.locale
    if ctx.templates.template:
        ctx.say("broadcast.template_cost", count=number(closed, locale), cost=rupiah(closed * ctx.templates.price, locale))
    else:
        ctx.say("broadcast.no_template", count=number(closed, locale))


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Sends now, asks when, or drops the draft."""
    if message.choice == "bc:schedule":
        return State.WHEN
    if message.choice == "bc:now":
        return await submit(ctx, None)
    ctx.drop(Composing)
    ctx.say("broadcast.cancelled")
    return COORDINATOR_MENU


async def ask_when(ctx: Context) -> None:
    ctx.say("broadcast.ask_when")


async def answer_when(ctx: Context, message: Inbound) -> str | None:
    """A future moment (`besok 08.00`, `6/12 08.00`) schedules it; the past or nonsense is refused."""
    try:
        send_at = parse_schedule_time(message.text, ctx.now)
    except ParseError as error:
        ctx.say(SCHEDULE_ERRORS.get(error.reason, WHEN_INVALID))
        return None
    return await submit(ctx, send_at)


async def submit(ctx: Context, send_at: datetime | None) -> str:
    """Checks the permission once more and stores the broadcast: sending now (its rows written in
    this transaction), scheduled, or awaiting a second admin."""
    composed = draft(ctx)
    ctx.drop(Composing)
    segment, locale = composed.segment, ctx.person.locale
    action = ACTIONS[segment["kind"]]
    if not await permit_segment(ctx, segment):
        return COORDINATOR_MENU
    broadcast = await broadcasts.create(ctx.session, ctx.person.id, segment, composed.text, ctx.now, send_at)
    if broadcast.status == AWAITING:
        asked = await ask_approval(ctx, broadcast)
        ctx.say(SUBMITTED[asked > 0])
    elif send_at is None:
        count = await broadcasts.enqueue(ctx.session, broadcast, ctx.now) or 0
        ctx.say("broadcast.sending", count=number(count, locale))
    else:
        ctx.say("broadcast.scheduled", when=datetime_short(send_at, locale))
    await audit(ctx.session, ctx.person.id, action, broadcast.status, ctx.now, target=f"broadcast:{broadcast.id}",
                segment=segment, send_at=broadcast.send_at.isoformat())
    return COORDINATOR_MENU


async def ask_approval(ctx: Context, broadcast: Broadcast) -> int:
    """Tells every other admin that a broadcast awaits them; how many could be told."""
    count = await broadcasts.count_recipients(ctx.session, broadcast.segment)
    told = 0
    for admin in await broadcasts.admins(ctx.session, except_person=ctx.person.id):
        told += await notify(
            ctx, admin, APPROVAL_NEEDED, creator=ctx.person.name or "-",
            segment=await describe(ctx.session, broadcast.segment, admin.locale), count=number(count, admin.locale),
        )
    return told


async def open_approvals(ctx: Context) -> str:
    """`Setujui siaran`: admins only; the broadcasts other admins made that await approval."""
    if not await access.permit(ctx, APPROVE):
        return COORDINATOR_MENU
    if not await broadcasts.in_status(ctx.session, AWAITING, exclude_creator=ctx.person.id):
        ctx.say("broadcast.none_awaiting")
        return COORDINATOR_MENU
    return State.CHOOSE


async def ask_choose(ctx: Context) -> None:
    waiting = await broadcasts.in_status(ctx.session, AWAITING, exclude_creator=ctx.person.id)
    locale = ctx.person.locale
    choices = [
        (f"bca:{b.id}", Raw(ctx.t("broadcast.item", number=b.id, segment=await describe(ctx.session, b.segment, locale))))
        for b in waiting[:SHOWN]
    ]
    ctx.say("broadcast.ask_choose", choices=[*choices, TO_MENU])


async def answer_choose(ctx: Context, message: Inbound) -> str:
    if message.choice == TO_MENU[0]:
        return COORDINATOR_MENU
    ctx.begin(Approving(int((message.choice or "").removeprefix("bca:"))))
    return State.DECIDE


async def ask_decide(ctx: Context) -> None:
    """The broadcast as it will arrive, who wrote it, for whom, how many, and when."""
    broadcast = await broadcasts.get(ctx.session, ctx.draft(Approving).id)
    if broadcast is None:
        ctx.say("broadcast.not_awaiting", choices=[TO_MENU])
        return
    locale = ctx.person.locale
    creator = await ctx.session.get(Person, broadcast.created_by) if broadcast.created_by else None
    ctx.say(
        "broadcast.approval_preview",
        creator=(creator.name if creator else None) or "-",
        segment=await describe(ctx.session, broadcast.segment, locale),
        count=number(await broadcasts.count_recipients(ctx.session, broadcast.segment), locale),
        when=datetime_short(max(broadcast.send_at, ctx.now), locale),
        text=broadcast.text,
    )
    ctx.say("broadcast.ask_decide", choices=DECIDE_CHOICES)


async def answer_decide(ctx: Context, message: Inbound) -> str:
    """Approves (sending now, or at its time) or rejects, and tells the creator; never one's own."""
    broadcast_id = ctx.draft(Approving).id
    ctx.drop(Approving)
    if message.choice == TO_MENU[0]:
        return COORDINATOR_MENU
    target = f"broadcast:{broadcast_id}"
    if not await access.permit(ctx, APPROVE, target=target):
        return COORDINATOR_MENU
    if message.choice == "dec:approve":
        outcome, broadcast = await broadcasts.approve(ctx.session, broadcast_id, ctx.person.id, ctx.now)
    else:
        outcome, broadcast = await broadcasts.reject(ctx.session, broadcast_id, ctx.person.id)
    await audit(ctx.session, ctx.person.id, APPROVE, outcome, ctx.now, target=target)
    if outcome == OWN:
        ctx.say("broadcast.own_approval")
    elif outcome == GONE or broadcast is None:
        ctx.say("broadcast.not_awaiting")
    elif outcome == APPROVED:
        await tell_approved(ctx, broadcast)
    else:
        ctx.say("broadcast.rejected")
        await tell_creator(ctx.session, ctx.now, broadcast, REJECTED_NOTE, admin=ctx.person.name or "-")
    return COORDINATOR_MENU


async def tell_approved(ctx: Context, broadcast: Broadcast) -> None:
    """Sends at once when its time has come (the scheduler sends the others); tells the creator."""
    locale = ctx.person.locale
    if broadcast.send_at <= ctx.now:
        count = await broadcasts.enqueue(ctx.session, broadcast, ctx.now) or 0
        ctx.say("broadcast.approved_sending", count=number(count, locale))
    else:
        ctx.say("broadcast.approved_scheduled", when=datetime_short(broadcast.send_at, locale))
    await tell_creator(ctx.session, ctx.now, broadcast, APPROVED_NOTE, admin=ctx.person.name or "-")


async def tell_creator(session: AsyncSession, now: datetime, broadcast: Broadcast, key: str, **values: object) -> None:
    """A notice to whoever composed the broadcast about it, numbers and times in their language."""
    creator = await session.get(Person, broadcast.created_by) if broadcast.created_by else None
    if creator is None:
        return
    locale = creator.locale
    shown = {name: _shown(value, locale) for name, value in values.items()}
    await notify_person(session, now, creator, key, segment=await describe(session, broadcast.segment, locale), **shown)


def _shown(value: object, locale: str) -> object:
    if isinstance(value, datetime):
        return datetime_short(value, locale)
    return number(value, locale) if isinstance(value, int) else value


STEPS = {
    State.TEXT: Step(ask_text, answer_text, N_("broadcast.help_text"), accepts=TEXT, max_text=TYPED_MAX),
    State.SEGMENT: Step(ask_segment, answer_segment, N_("broadcast.help_segment")),
    State.KOTA: Step(ask_kota, answer_kota, N_("broadcast.help_segment")),
    State.KELURAHAN: Step(ask_kelurahan, answer_kelurahan, N_("broadcast.help_segment"), accepts=TEXT),
    State.PICK: Step(ask_pick, answer_pick, N_("broadcast.help_segment"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("broadcast.help_confirm")),
    State.WHEN: Step(ask_when, answer_when, N_("broadcast.help_when"), accepts=TEXT),
    State.CHOOSE: Step(ask_choose, answer_choose, N_("broadcast.help_approve")),
    State.DECIDE: Step(ask_decide, answer_decide, N_("broadcast.help_approve")),
}
