"""Resident registration: consent first, then name, then the RW (kota → kecamatan → kelurahan, or a
typed kelurahan name, then the RW number)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from handlers import consent, place_pick
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Raw, Step
from handlers.dialog.parsing import ParseError, parse_rw_number
from handlers.messages import Inbound, Kind
from handlers.text.formatting import rupiah
from handlers.text.i18n import N_
from storage import banks, places
from storage.models import Person

RW_ERRORS = {"out_of_range": N_("register.rw_out_of_range")}
RW_NOT_A_NUMBER = N_("register.rw_not_a_number")
PLACE_INPUT = TEXT | {Kind.LOCATION}
JAKARTA_REACH_KM = 5.0  # a shared point farther than this from every kelurahan centroid is outside Jakarta
LOCATED_CHOICES = (("located:yes", N_("register.located_yes")), ("located:no", N_("register.located_no")))


class State(StrEnum):
    CONSENT = "register.consent"
    NAME = "register.name"
    KOTA = "register.kota"
    KECAMATAN = "register.kecamatan"
    KELURAHAN = "register.kelurahan"
    PICK = "register.pick"
    LOCATED = "register.located"
    RW = "register.rw"


@dataclass
class Registration(Draft):
    """Where registration leads when done, and the place chosen so far."""

    KEY = "register"
    then: str = MENU
    changing_rw: bool = False  # from the profile: savings stay where they were earned
    kota: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    matches: list[str] = field(default_factory=list)  # kelurahan codes a typed name matched


def is_resident(person: Person) -> bool:
    """Consented, named and placed in an RW."""
    return person.consent_at is not None and person.name is not None and person.rw_id is not None


def start(ctx: Context, then: str = MENU) -> str:
    """Where registration begins for this person; `then` is where it leads when done."""
    ctx.begin(Registration(then=then))
    if ctx.person.consent_at is None:
        return State.CONSENT
    return State.NAME if ctx.person.name is None else State.KOTA


def change_rw(ctx: Context) -> str:
    """Choose a new RW (from the profile)."""
    ctx.begin(Registration(changing_rw=True))
    return State.KOTA


async def ask_consent(ctx: Context) -> None:
    """Says what is stored and why, and asks for consent."""
    consent.ask(ctx, N_("register.notice"))


async def answer_consent(ctx: Context, message: Inbound) -> str:
    """Records consent with the notice version and time (goes on to the name), or ends politely."""
    if not consent.given(ctx, message):
        ctx.data.clear()
        ctx.say("register.declined")
        return MENU
    return State.NAME


async def ask_name(ctx: Context) -> None:
    ctx.say("register.ask_name")


async def answer_name(ctx: Context, message: Inbound) -> str | None:
    """Keeps a plausible name (2–60 characters with letters); goes on to the kota."""
    name = consent.clean_name(message.text, 60)
    if name is None:
        ctx.say("register.name_invalid")
        return None
    ctx.person.name = name
    return State.KOTA


async def ask_kota(ctx: Context) -> None:
    kota = await places.all_kota(ctx.session)
    ctx.say("register.ask_kota", choices=[(f"kota:{k.code}", Raw(places.short_kota(k.name))) for k in kota])


async def answer_kota(ctx: Context, message: Inbound) -> str | None:
    """A kota leads to its kecamatan; a typed name searches every kelurahan; a location proposes the nearest."""
    if message.kind is Kind.LOCATION:
        return await locate(ctx, message)
    if message.kind is Kind.CHOICE:
        ctx.draft(Registration).kota = (message.choice or "").removeprefix("kota:")
        return State.KECAMATAN
    return await search(ctx, message.text, kota_code=None)


async def ask_kecamatan(ctx: Context) -> None:
    kecamatan = await places.kecamatan_of(ctx.session, ctx.draft(Registration).kota or "")
    ctx.say("register.ask_kecamatan", choices=[(f"kec:{k.code}", Raw(k.name)) for k in kecamatan])


async def answer_kecamatan(ctx: Context, message: Inbound) -> str | None:
    if message.kind is Kind.LOCATION:
        return await locate(ctx, message)
    if message.kind is Kind.CHOICE:
        ctx.draft(Registration).kecamatan = (message.choice or "").removeprefix("kec:")
        return State.KELURAHAN
    return await search(ctx, message.text, kota_code=ctx.draft(Registration).kota)


async def ask_kelurahan(ctx: Context) -> None:
    kelurahan = await places.kelurahan_of(ctx.session, ctx.draft(Registration).kecamatan or "")
    ctx.say("register.ask_kelurahan", choices=[(f"kel:{k.code}", Raw(k.name)) for k in kelurahan])


async def answer_kelurahan(ctx: Context, message: Inbound) -> str | None:
    if message.kind is Kind.LOCATION:
        return await locate(ctx, message)
    if code := place_pick.chosen(message):
        ctx.draft(Registration).kelurahan = code
        return State.RW
    return await search(ctx, message.text, kota_code=ctx.draft(Registration).kota)


async def search(ctx: Context, text: str, kota_code: str | None) -> str | None:
    """Typed kelurahan names, typos forgiven: offer what matches, or say nothing did."""
    codes = await place_pick.search(ctx, text, kota_code)
    if not codes:
        return None
    ctx.draft(Registration).matches = codes
    return State.PICK


async def locate(ctx: Context, message: Inbound) -> str | None:
    """The kelurahan nearest a shared location, to confirm; a point outside Jakarta is said so."""
    if message.location is None or not all(map(math.isfinite, message.location)):
        ctx.say("input.unsupported")
        return None
    closest, distance = await places.nearest_kelurahan(ctx.session, message.location)
    if distance > JAKARTA_REACH_KM:
        ctx.say("register.outside_jakarta")
        return None
    ctx.draft(Registration).kelurahan = closest.code
    return State.LOCATED


async def ask_located(ctx: Context) -> None:
    kelurahan = await places.kelurahan(ctx.session, ctx.draft(Registration).kelurahan or "")
    ctx.say("register.ask_located", place=place_pick.place_label(kelurahan) if kelurahan else "",
            choices=LOCATED_CHOICES)


async def answer_located(ctx: Context, message: Inbound) -> str:
    """Yes goes on to the RW number; no goes back to choosing the kota."""
    if message.choice == "located:yes":
        return State.RW
    ctx.draft(Registration).kelurahan = None
    return State.KOTA


async def ask_pick(ctx: Context) -> None:
    await place_pick.offer(ctx, N_("register.ask_pick"), ctx.draft(Registration).matches)


async def answer_pick(ctx: Context, message: Inbound) -> str | None:
    if code := place_pick.chosen(message):
        ctx.draft(Registration).kelurahan = code
        return State.RW
    return await search(ctx, message.text, kota_code=None)


async def ask_rw(ctx: Context) -> None:
    kelurahan = await places.kelurahan(ctx.session, ctx.draft(Registration).kelurahan or "")
    ctx.say("register.ask_rw", kelurahan=kelurahan.name if kelurahan else "")


async def answer_rw(ctx: Context, message: Inbound) -> str | None:
    """Places the person in the RW, opens their waste-bank account if the RW has a bank, and says so."""
    try:
        number = parse_rw_number(message.text)
    except ParseError as error:
        ctx.say(RW_ERRORS.get(error.reason, RW_NOT_A_NUMBER))
        return None
    draft = ctx.draft(Registration)
    rw = await places.get_or_create_rw(ctx.session, draft.kelurahan or "", number)
    previous_rw, ctx.person.rw_id = ctx.person.rw_id, rw.id
    ctx.say("register.done", name=ctx.person.name, rw=f"{rw.number:03d}", kelurahan=rw.kelurahan.name)
    bank = await banks.bank_for_rw(ctx.session, rw.id)
    if bank is None:
        ctx.say("register.no_bank")
    else:
        account = await banks.ensure_account(ctx.session, ctx.person.id, bank.id)
        ctx.say("register.bank", bank=bank.name, member=account.member_number)
    if draft.changing_rw and previous_rw != rw.id:
        await tell_savings_stay(ctx)
    ctx.drop(Registration)
    return draft.then


async def tell_savings_stay(ctx: Context) -> None:
    """Savings stay with the bank where they were earned."""
    for account, amount in await banks.savings(ctx.session, ctx.person.id):
        if amount:
            ctx.say("register.savings_stay", amount=rupiah(amount, ctx.person.locale), bank=account.bank.name)


STEPS = {
    State.CONSENT: Step(ask_consent, answer_consent, N_("register.help_consent")),
    State.NAME: Step(ask_name, answer_name, N_("register.help_name"), accepts=TEXT),
    State.KOTA: Step(ask_kota, answer_kota, N_("register.help_place"), accepts=PLACE_INPUT),
    State.KECAMATAN: Step(ask_kecamatan, answer_kecamatan, N_("register.help_place"), accepts=PLACE_INPUT),
    State.KELURAHAN: Step(ask_kelurahan, answer_kelurahan, N_("register.help_place"), accepts=PLACE_INPUT),
    State.PICK: Step(ask_pick, answer_pick, N_("register.help_place"), accepts=TEXT),
    State.LOCATED: Step(ask_located, answer_located, N_("register.help_place")),
    State.RW: Step(ask_rw, answer_rw, N_("register.help_rw"), accepts=TEXT),
}
