"""Collaborator sign-up: consent (when not given yet), type, aggregator or organisation name, contact
person, phone, optional email, and whether the name may be shown on the RW page. The answers wait in
the conversation and the collaborator profile is written once, at the end; the flow then goes on to
the state the caller named."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from handlers import consent
from handlers.consent import clean_name
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw, Step
from handlers.messages import Contact, Inbound, Kind
from handlers.text.i18n import N_
from storage.audit import audit
from storage.models import Collaborator
from storage.people import e164, find_identity

INDIVIDUAL, COMPANY, FOUNDATION, AGGREGATOR = "individual", "company", "foundation", "aggregator"
TYPE_CHOICES = (
    (f"ctype:{INDIVIDUAL}", N_("collab.type_individual")),
    (f"ctype:{COMPANY}", N_("collab.type_company")),
    (f"ctype:{FOUNDATION}", N_("collab.type_foundation")),
    (f"ctype:{AGGREGATOR}", N_("collab.type_aggregator")),
)
AGGREGATORS = (
    "Baznas Bazis DKI", "Rumah Zakat", "ACT", "Human Initiative", "Plan Indonesia", "T-Care", "Rumah Sosial Kutub",
)
OTHER = ("agg:other", N_("collab.aggregator_other"))
ORGANISATION_QUESTIONS = {
    COMPANY: N_("collab.ask_company"),
    FOUNDATION: N_("collab.ask_foundation"),
    AGGREGATOR: N_("collab.ask_aggregator_name"),
}
MY_NAME = ("contact:me", N_("collab.use_my_name"))
THIS_NUMBER = ("phone:this", N_("collab.use_this_number"))
SKIP_EMAIL = ("email:skip", N_("collab.skip_email"))
PUBLIC_CHOICES = (("public:yes", N_("collab.public_yes")), ("public:no", N_("collab.public_no")))
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NAME_LIMIT, ORGANISATION_LIMIT, EMAIL_LIMIT = 60, 120, 120


class State(StrEnum):
    CONSENT = "collab.consent"
    TYPE = "collab.type"
    AGGREGATOR = "collab.aggregator"
    ORGANISATION = "collab.organisation"
    CONTACT = "collab.contact"
    PHONE = "collab.phone"
    EMAIL = "collab.email"
    PUBLIC = "collab.public"


@dataclass
class Signup(Draft):
    """The sign-up answers so far, and the state to go on to when it is done."""

    KEY = "collab_signup"
    then: str = MENU
    type: str | None = None  # individual, company, foundation or aggregator
    organisation: str | None = None  # none for an individual
    contact_name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None  # none when skipped

    @property
    def shown_name(self) -> str:
        """The name the RW page would show: the organisation, or the contact person."""
        return self.organisation or self.contact_name or ""


DRAFT = Signup.KEY  # where the answers wait in the conversation data


async def is_collaborator(ctx: Context) -> bool:
    """The person has a collaborator profile."""
    return await ctx.session.get(Collaborator, ctx.person.id) is not None


def start(ctx: Context, then: str) -> str:
    """Where sign-up begins for this person; when it is done the flow goes on to `then`."""
    ctx.begin(Signup(then=then))
    return State.CONSENT if ctx.person.consent_at is None else State.TYPE


async def start_from_link(ctx: Context, _value: str) -> str:
    """`/start kolab`: sign-up, then the menu; someone already signed up goes straight to the menu."""
    if await is_collaborator(ctx):
        ctx.say("collab.already")
        return MENU
    return start(ctx, MENU)


async def ask_consent(ctx: Context) -> None:
    """Says what is stored for a collaborator and why, and asks for consent."""
    consent.ask(ctx, N_("collab.notice"))


async def answer_consent(ctx: Context, message: Inbound) -> str:
    """Records consent (goes on to the type), or stores nothing and goes back to the menu."""
    if not consent.given(ctx, message):
        ctx.drop(Signup)
        ctx.say("collab.declined")
        return MENU
    return State.TYPE


async def ask_type(ctx: Context) -> None:
    ctx.say("collab.ask_type", choices=TYPE_CHOICES)


async def answer_type(ctx: Context, message: Inbound) -> str:
    """Aggregators choose theirs; companies and foundations name theirs; individuals go to the contact."""
    kind = (message.choice or "").removeprefix("ctype:")
    answers = ctx.draft(Signup)
    answers.type, answers.organisation = kind, None
    if kind == AGGREGATOR:
        return State.AGGREGATOR
    return State.CONTACT if kind == INDIVIDUAL else State.ORGANISATION


async def ask_aggregator(ctx: Context) -> None:
    choices = [(f"agg:{index}", Raw(name)) for index, name in enumerate(AGGREGATORS)]
    ctx.say("collab.ask_aggregator", choices=[*choices, OTHER])


async def answer_aggregator(ctx: Context, message: Inbound) -> str:
    """A listed aggregator is the organisation; "other" asks for its name."""
    if message.choice == OTHER[0]:
        return State.ORGANISATION
    ctx.draft(Signup).organisation = AGGREGATORS[int((message.choice or "").removeprefix("agg:"))]
    return State.CONTACT


async def ask_organisation(ctx: Context) -> None:
    ctx.say(ORGANISATION_QUESTIONS.get(ctx.draft(Signup).type or COMPANY, N_("collab.ask_company")))


async def answer_organisation(ctx: Context, message: Inbound) -> str | None:
    """Keeps a plausible organisation name; goes on to the contact person."""
    name = clean_name(message.text, ORGANISATION_LIMIT)
    if name is None:
        ctx.say("collab.organisation_invalid")
        return None
    ctx.draft(Signup).organisation = name
    return State.CONTACT


async def ask_contact(ctx: Context) -> None:
    """Asks for the contact person, offering the person's own name when known."""
    answers = ctx.draft(Signup)
    known = ctx.person.name
    if answers.type == INDIVIDUAL:
        key = N_("collab.ask_own_name_known") if known else N_("collab.ask_own_name")
    else:
        key = N_("collab.ask_contact_known") if known else N_("collab.ask_contact")
    ctx.say(key, name=known or "", organisation=answers.organisation or "", choices=[MY_NAME] if known else [])


async def answer_contact(ctx: Context, message: Inbound) -> str | None:
    """Keeps the contact person's name (or the person's own); goes on to the phone."""
    if message.kind is Kind.CHOICE and ctx.person.name:
        name: str | None = ctx.person.name
    else:
        name = clean_name(message.text, NAME_LIMIT)
    if name is None:
        ctx.say("collab.contact_invalid")
        return None
    ctx.draft(Signup).contact_name = name
    return State.PHONE


def channel_number(ctx: Context) -> str | None:
    """The number the person writes from, when their channel vouches for one (WhatsApp) and it is Indonesian."""
    phone = ctx.message.phone if ctx.message is not None else None
    return e164(phone) if phone else None


def own_contact(ctx: Context, contact: Contact) -> bool:
    """A contact card is the sender's own: its channel vouches for it (on Telegram, its user id is the
    sender's), or its number is the one the sender writes from."""
    number = channel_number(ctx)
    return contact.own or (number is not None and e164(contact.phone) == number)


async def ask_phone(ctx: Context) -> None:
    number = channel_number(ctx)
    ctx.say("collab.ask_phone", choices=[THIS_NUMBER] if number else [])


async def answer_phone(ctx: Context, message: Inbound) -> str | None:
    """Keeps an Indonesian number (typed, this WhatsApp number, or one's own shared contact); a card
    of someone else is refused and forgotten."""
    if message.kind is Kind.CONTACT:
        if message.contact is None or not own_contact(ctx, message.contact):
            ctx.say("collab.contact_card_not_own")
            return None
        text = message.contact.phone
    elif message.kind is Kind.CHOICE:
        text = channel_number(ctx) or ""
    else:
        text = message.text
    phone = e164(text)
    if phone is None:
        ctx.say("collab.phone_invalid")
        return None
    ctx.draft(Signup).phone = phone
    if message.kind is Kind.CONTACT and await written_from_whatsapp(ctx, phone):
        ctx.say("collab.link_hint")  # joining is the person's explicit choice in the profile, never silent
    return State.EMAIL


async def written_from_whatsapp(ctx: Context, phone: str) -> bool:
    """Someone other than this person writes to the bot on WhatsApp from this number."""
    identity = await find_identity(ctx.session, f"whatsapp:{phone}")
    return identity is not None and identity.person_id != ctx.person.id


async def ask_email(ctx: Context) -> None:
    ctx.say("collab.ask_email", choices=[SKIP_EMAIL])


async def answer_email(ctx: Context, message: Inbound) -> str | None:
    """Keeps a plausible email, or none when skipped; goes on to the public-name question."""
    if message.kind is Kind.CHOICE:
        email = None
    else:
        email = message.text.strip()
        if len(email) > EMAIL_LIMIT or not EMAIL.match(email):
            ctx.say("collab.email_invalid")
            return None
    ctx.draft(Signup).email = email
    return State.PUBLIC


async def ask_public(ctx: Context) -> None:
    ctx.say("collab.ask_public", name=ctx.draft(Signup).shown_name, choices=PUBLIC_CHOICES)


async def answer_public(ctx: Context, message: Inbound) -> str:
    """Writes the collaborator profile in one go, records it, says so, and goes on."""
    answers = ctx.draft(Signup)
    ctx.drop(Signup)
    if None in (answers.type, answers.contact_name, answers.phone):  # the draft was lost: start again
        ctx.say("collab.lost")
        return start(ctx, answers.then)
    public = message.choice == "public:yes"
    fields = {name: getattr(answers, name) for name in ("type", "organisation", "contact_name", "phone", "email")}
    existing = await ctx.session.get(Collaborator, ctx.person.id)
    if existing is None:
        ctx.session.add(Collaborator(person_id=ctx.person.id, public=public, created_at=ctx.now, **fields))
    else:
        for name, value in {**fields, "public": public}.items():
            setattr(existing, name, value)
    await ctx.session.flush()
    await audit(ctx.session, ctx.person.id, "collaborator_signup", "created" if existing is None else "updated",
                ctx.now, target=f"collaborator:{ctx.person.id}", type=fields["type"], public=public,
                email=fields["email"] is not None)
    ctx.say("collab.done", name=answers.shown_name)
    return answers.then


STEPS = {
    State.CONSENT: Step(ask_consent, answer_consent, N_("collab.help_consent")),
    State.TYPE: Step(ask_type, answer_type, N_("collab.help_type")),
    State.AGGREGATOR: Step(ask_aggregator, answer_aggregator, N_("collab.help_aggregator")),
    State.ORGANISATION: Step(ask_organisation, answer_organisation, N_("collab.help_organisation"), accepts=TEXT),
    State.CONTACT: Step(ask_contact, answer_contact, N_("collab.help_contact"), accepts=TEXT),
    State.PHONE: Step(ask_phone, answer_phone, N_("collab.help_phone"), accepts=TEXT | {Kind.CONTACT}),
    State.EMAIL: Step(ask_email, answer_email, N_("collab.help_email"), accepts=TEXT),
    State.PUBLIC: Step(ask_public, answer_public, N_("collab.help_public")),
}
