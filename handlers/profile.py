"""Profile: language, change RW, weighing reminders on or off, linking WhatsApp (on Telegram), and erasing
one's data."""

from __future__ import annotations

from enum import StrEnum

from handlers import registration
from handlers.dialog.machine import CHOICE_ONLY, LANGUAGE, MENU, Context, Step
from handlers.messages import CONTACT_REQUEST, Inbound, Kind
from handlers.text.formatting import rupiah
from handlers.text.i18n import N_
from storage import banks, places
from storage.erasure import erase_person
from storage.joining import join, older_first
from storage.people import e164, find_identity, phone_digest
from storage.roles import roles_of


class State(StrEnum):
    MAIN = "profile.main"
    ERASE = "profile.erase"
    LINK = "profile.link"


CHOICES = (
    ("profile:language", N_("profile.language")),
    ("profile:rw", N_("profile.change_rw")),
    ("profile:erase", N_("profile.erase")),
    ("profile:back", N_("profile.back")),
)
REMINDERS = {True: N_("profile.reminders_on"), False: N_("profile.reminders_off")}
REMINDERS_CHANGED = {True: N_("profile.reminders_now_on"), False: N_("profile.reminders_now_off")}
ERASE_CHOICES = (("erase:yes", N_("profile.erase_yes")), ("erase:no", N_("profile.erase_no")))
LINK = ("profile:link", N_("profile.link_whatsapp"))
LINK_CHOICES = ((CONTACT_REQUEST, N_("profile.link_share")), ("link:cancel", N_("profile.link_cancel")))


async def has_profile(ctx: Context) -> bool:
    """Everyone who consented: residents, collaborators, coordinators, anyone who gave the bot personal
    data, so that everyone can erase it."""
    return ctx.person.consent_at is not None


async def erase(ctx: Context, _arg: str) -> str:
    """`HAPUS DATA` (or `/hapus`) from anywhere: straight to the question whether to erase."""
    return State.ERASE


async def ask_profile(ctx: Context) -> None:
    """Shows who and where the person is, and what they can change (RW and reminders: residents only)."""
    resident = registration.is_resident(ctx.person)
    choices = [CHOICES[0], *([CHOICES[1], ("profile:reminders", REMINDERS[ctx.person.reminders])] if resident else []),
               *([LINK] if ctx.message is not None and ctx.message.contact_button else []), *CHOICES[2:]]
    rw = await places.rw(ctx.session, ctx.person.rw_id) if ctx.person.rw_id else None
    ctx.say(
        "profile.ask",
        name=ctx.person.name or "-",
        rw=f"{rw.number:03d}" if rw else "-",
        kelurahan=rw.kelurahan.name if rw else "-",
        language=ctx.t(f"language.name.{ctx.person.locale}"),
        choices=choices,
    )


async def answer_profile(ctx: Context, message: Inbound) -> str:
    if message.choice == "profile:language":
        return LANGUAGE
    if message.choice == "profile:rw":
        return registration.change_rw(ctx)
    if message.choice == "profile:reminders":
        ctx.person.reminders = not ctx.person.reminders
        ctx.say(REMINDERS_CHANGED[ctx.person.reminders])
        return State.MAIN
    if message.choice == "profile:erase":
        return State.ERASE
    if message.choice == LINK[0]:
        return State.LINK
    return MENU


async def ask_erase(ctx: Context) -> None:
    """Warns when savings remain, then asks for a clear yes."""
    for account, amount in await banks.savings(ctx.session, ctx.person.id):
        if amount:
            ctx.say("profile.erase_balance", amount=rupiah(amount, ctx.person.locale), bank=account.bank.name)
    ctx.say("profile.ask_erase", choices=ERASE_CHOICES)


async def answer_erase(ctx: Context, message: Inbound) -> str | None:
    """Erases the person's data and says goodbye (a message that is itself deleted once sent)."""
    if message.choice != "erase:yes":
        ctx.say("cancel.done")
        return MENU
    await erase_person(ctx.session, ctx.person.id)
    ctx.erased = True
    ctx.say_text(ctx.t("profile.erased"), forget=True)
    return None


async def ask_link(ctx: Context) -> None:
    """Says what linking does and asks for the person's own number through Telegram's contact button."""
    ctx.say("profile.link_ask", choices=LINK_CHOICES)


async def answer_link(ctx: Context, message: Inbound) -> str | None:
    """Joins this person with the one writing from the shared number on WhatsApp (the older one is kept);
    a card of someone else, or a typed label, is refused and nothing is stored."""
    if message.kind is not Kind.CONTACT:
        if message.choice == CONTACT_REQUEST:  # typed the button's label instead of pressing it
            ctx.say("profile.link_use_button")
            return None
        return State.MAIN
    if message.contact is None or not message.contact.own:
        ctx.say("profile.link_not_own")
        return None
    number = e164(message.contact.phone)
    if number is None:
        ctx.say("profile.link_not_indonesian")
        return MENU
    other = await find_identity(ctx.session, f"whatsapp:{number}")
    if other is None:
        ctx.identity.phone_hash = phone_digest(number)  # the first WhatsApp message from it joins this person
        ctx.say("profile.link_not_found")
        return MENU
    if other.person_id == ctx.person.id:
        ctx.say("profile.link_already")
        return MENU
    keep, merged = older_first(ctx.person, other.person)
    await join(ctx.session, keep.id, merged.id, ctx.now, actor_id=ctx.person.id)
    ctx.person, ctx.roles = keep, await roles_of(ctx.session, keep.id)
    ctx.say("profile.linked")
    return MENU


STEPS = {
    State.MAIN: Step(ask_profile, answer_profile, N_("profile.help")),
    State.ERASE: Step(ask_erase, answer_erase, N_("profile.help_erase")),
    State.LINK: Step(ask_link, answer_link, N_("profile.help_link"), accepts=CHOICE_ONLY | {Kind.CONTACT}),
}
