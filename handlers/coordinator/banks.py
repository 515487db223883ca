"""Registering a waste-bank unit (name, address, the RWs it serves in one kelurahan, the weighing
schedule), and choosing which of one's banks a price or schedule change is for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum

from handlers import place_pick
from handlers.consent import clean_name
from handlers.coordinator import COORDINATOR_MENU, access
from handlers.coordinator.waste_access import banks_in_scope, permit_bank
from handlers.dialog.machine import TEXT, Context, Draft, Raw, Step
from handlers.dialog.matching import search_names
from handlers.dialog.parsing import (
    MISSING_TIME,
    MISSING_WEEKDAY,
    NOT_A_NUMBER,
    ParseError,
    parse_rw_number,
    parse_weekday_time,
)
from handlers.info import WEEKDAYS
from handlers.messages import Inbound, Kind
from handlers.text.formatting import time_of_day
from handlers.text.i18n import N_
from storage import bank_admin, places
from storage.audit import audit
from storage.models import WasteBank
from storage.models.roles import WASTE
from storage.roles import scope

REGISTER = "register_bank"
MAX_RWS = 30
MAX_CHOICES = 12
_RW_SEPARATORS = re.compile(r"\s*(?:[,;&/+]|\bdan\b|\band\b)\s*", re.IGNORECASE)

SCHEDULE_ERRORS = {MISSING_WEEKDAY: N_("bank.schedule_no_day"), MISSING_TIME: N_("bank.schedule_no_time")}
SCHEDULE_UNREADABLE = N_("bank.schedule_unreadable")
RWS_UNREADABLE = N_("bank.rws_unreadable")
SCHEDULE_CHOICES = (("schedule:later", N_("bank.schedule_later")),)
CONFIRM_CHOICES = (("bank:save", N_("bank.save")), ("bank:cancel", N_("bank.cancel")))


class State(StrEnum):
    NAME = "bank.name"
    ADDRESS = "bank.address"
    KELURAHAN = "bank.kelurahan"
    PICK = "bank.pick"
    RWS = "bank.rws"
    SCHEDULE = "bank.schedule"
    CONFIRM = "bank.confirm"
    CHOOSE = "bank.choose"


async def refuse(ctx: Context, action: str, reason: str, key: str, target: str | None = None, **values: object) -> None:
    """Say why the input cannot be used, and audit the attempt."""
    await audit(ctx.session, ctx.person.id, action, "refused", ctx.now, target=target, reason=reason)
    ctx.say(key, **values)


def rw_label(numbers: list[int]) -> str:
    """`012, 014`."""
    return ", ".join(f"{number:03d}" for number in sorted(numbers))


def schedule_text(ctx: Context, weekday: int | None, at: time | None) -> str:
    """`setiap Sabtu, pukul 08.00 WIB`, or that there is none."""
    if weekday is None or at is None:
        return ctx.t("bank.no_schedule")
    return ctx.t("bank.schedule_text", weekday=ctx.t(WEEKDAYS[weekday]), time=time_of_day(at, ctx.person.locale))


def parse_rw_numbers(text: str) -> list[int]:
    """RW numbers in `12, 14`, `12 dan 14`, `RW 12/RW 14` or `12 14`, each from 1 to 99, sorted."""
    numbers: set[int] = set()
    for piece in filter(None, _RW_SEPARATORS.split(text.strip())):
        try:
            numbers.add(parse_rw_number(piece))
        except ParseError:
            words = piece.split()
            if len(words) < 2:
                raise
            numbers.update(parse_rw_number(word) for word in words)
    if not numbers:
        raise ParseError(NOT_A_NUMBER)
    return sorted(numbers)


# --- Registering a bank ---------------------------------------------------------------------


@dataclass
class NewBank(Draft):
    """A bank being registered."""

    KEY = "bank"
    name: str = ""
    address: str = ""
    kelurahan: str = ""  # its code
    matches: list[str] = field(default_factory=list)  # kelurahan codes a typed name matched
    rws: list[int] = field(default_factory=list)  # RW ids
    numbers: list[int] = field(default_factory=list)  # the same RWs' numbers, to show
    weekday: int | None = None  # the weighing schedule, if given
    time: str | None = None  # `08:00`

    def schedule(self) -> tuple[int | None, time | None]:
        """The weekday and time of weighing, if a schedule was given."""
        return (self.weekday, time.fromisoformat(self.time)) if self.weekday is not None and self.time else (None, None)


@dataclass
class BankChoice(Draft):
    """Which bank an action is for: the action, where it continues, and the banks a typed name matched."""

    KEY = "bank_for"
    action: str = ""
    then: str = ""
    matches: list[int] = field(default_factory=list)


@dataclass
class ChosenBank(Draft):
    """The bank the action in progress is for."""

    KEY = "bank_chosen"
    id: int | None = None


async def start_registering(ctx: Context) -> str:
    """Only for someone who may register banks at all; the RWs are checked once named."""
    if not await access.permit(ctx, REGISTER):
        return COORDINATOR_MENU
    ctx.drop(NewBank)
    return State.NAME


async def ask_name(ctx: Context) -> None:
    ctx.say("bank.ask_name")


async def answer_name(ctx: Context, message: Inbound) -> str | None:
    """Keeps a plausible name (3–120 characters with letters); goes on to the address."""
    name = clean_name(message.text, 120, shortest=3)
    if name is None:
        ctx.say("bank.name_invalid")
        return None
    ctx.draft(NewBank).name = name
    return State.ADDRESS


async def ask_address(ctx: Context) -> None:
    ctx.say("bank.ask_address")


async def answer_address(ctx: Context, message: Inbound) -> str | None:
    """Keeps an address of 5–200 characters; goes on to the kelurahan."""
    address = " ".join(message.text.split())
    if not 5 <= len(address) <= 200:
        ctx.say("bank.address_invalid")
        return None
    ctx.draft(NewBank).address = address
    return State.KELURAHAN


async def ask_kelurahan(ctx: Context) -> None:
    """Offers the kelurahan of the person's own RWs; any name may be typed."""
    covered = await scope(ctx.session, ctx.person.id, WASTE)
    own = await bank_admin.kelurahan_of(ctx.session, covered) if covered else []
    ctx.say("bank.ask_kelurahan", choices=place_pick.choices(own))


async def answer_kelurahan(ctx: Context, message: Inbound) -> str | None:
    """A chosen kelurahan leads to its RWs; a typed name is searched, typos forgiven."""
    bank = ctx.draft(NewBank)
    if code := place_pick.chosen(message):
        bank.kelurahan = code
        return State.RWS
    codes = await place_pick.search(ctx, message.text)
    if len(codes) == 1:
        bank.kelurahan = codes[0]
        return State.RWS
    if codes:
        bank.matches = codes
        return State.PICK
    return None


async def ask_pick(ctx: Context) -> None:
    await place_pick.offer(ctx, N_("register.ask_pick"), ctx.draft(NewBank).matches)


async def ask_rws(ctx: Context) -> None:
    kelurahan = await places.kelurahan(ctx.session, ctx.draft(NewBank).kelurahan)
    ctx.say("bank.ask_rws", kelurahan=kelurahan.name if kelurahan else "")


async def answer_rws(ctx: Context, message: Inbound) -> str | None:
    """Keeps RWs the person may act for and no other bank serves; goes on to the schedule."""
    try:
        numbers = parse_rw_numbers(message.text)
    except ParseError as error:
        await refuse(ctx, REGISTER, error.reason, RWS_UNREADABLE)
        return None
    if len(numbers) > MAX_RWS:
        await refuse(ctx, REGISTER, "too_many_rws", N_("bank.rws_too_many"), limit=MAX_RWS)
        return None
    bank = ctx.draft(NewBank)
    rw_ids = [(await places.get_or_create_rw(ctx.session, bank.kelurahan, number)).id for number in numbers]
    if not await rws_available(ctx, rw_ids):
        return State.RWS
    bank.rws, bank.numbers = rw_ids, numbers
    return State.SCHEDULE


async def rws_available(ctx: Context, rw_ids: list[int]) -> bool:
    """Refuses RWs outside the person's scope, and RWs another bank already serves."""
    if not await access.permit(ctx, REGISTER, rw_ids):
        return False
    taken = await bank_admin.served_by(ctx.session, rw_ids)
    if not taken:
        return True
    names = sorted({bank.name for bank in taken.values()})
    numbers = [(await places.rw(ctx.session, rw_id)).number for rw_id in taken]
    await refuse(ctx, REGISTER, "rw_served", N_("bank.rws_served"), rws=rw_label(numbers), bank=", ".join(names))
    return False


async def ask_schedule(ctx: Context) -> None:
    ctx.say("bank.ask_schedule", choices=SCHEDULE_CHOICES)


async def answer_schedule(ctx: Context, message: Inbound) -> str | None:
    """Reads `Sabtu 08.00` (or leaves the schedule for later); goes on to the summary."""
    if message.kind is Kind.CHOICE:
        ctx.draft(NewBank).weekday = ctx.draft(NewBank).time = None
        return State.CONFIRM
    try:
        weekday, at = parse_weekday_time(message.text)
    except ParseError as error:
        await refuse(ctx, REGISTER, error.reason, SCHEDULE_ERRORS.get(error.reason, SCHEDULE_UNREADABLE))
        return None
    ctx.draft(NewBank).weekday, ctx.draft(NewBank).time = weekday, at.strftime("%H:%M")
    return State.CONFIRM


async def ask_confirm(ctx: Context) -> None:
    """The summary of what will be registered, and a clear yes."""
    bank = ctx.draft(NewBank)
    kelurahan = await places.kelurahan(ctx.session, bank.kelurahan)
    ctx.say(
        "bank.ask_confirm",
        name=bank.name,
        address=bank.address,
        rws=rw_label(bank.numbers),
        kelurahan=kelurahan.name if kelurahan else "",
        schedule=schedule_text(ctx, *bank.schedule()),
        choices=CONFIRM_CHOICES,
    )


async def answer_confirm(ctx: Context, message: Inbound) -> str:
    """Registers the bank after checking scope and the RWs again; back to the coordinator menu."""
    new = ctx.draft(NewBank)
    ctx.drop(NewBank)
    if message.choice != "bank:save":
        ctx.say("cancel.done")
        return COORDINATOR_MENU
    if not await rws_available(ctx, new.rws):
        return COORDINATOR_MENU
    weekday, at = new.schedule()
    bank = await bank_admin.register_bank(
        ctx.session, name=new.name, address=new.address, rw_ids=new.rws, weekday=weekday, at=at, now=ctx.now
    )
    await audit(ctx.session, ctx.person.id, REGISTER, "ok", ctx.now, target=f"bank:{bank.id}", rws=new.rws)
    ctx.say("bank.registered", name=bank.name, rws=rw_label(new.numbers))
    return COORDINATOR_MENU


# --- Choosing one's bank --------------------------------------------------------------------


async def choose_bank(ctx: Context, action: str, then: str) -> str:
    """Which bank an action is for: asked only when the person coordinates more than one."""
    if not await access.permit(ctx, action):
        return COORDINATOR_MENU
    found = await banks_in_scope(ctx)
    if not found:
        ctx.say("bank.none_in_scope")
        return COORDINATOR_MENU
    ctx.begin(BankChoice(action, then))
    return await use_bank(ctx, found[0]) if len(found) == 1 else State.CHOOSE


async def ask_choose(ctx: Context) -> None:
    """Up to twelve banks as choices (the matches of a typed name, once there are some)."""
    matches = ctx.draft(BankChoice).matches
    if matches:
        banks = [bank for bank_id in matches if (bank := await ctx.session.get(WasteBank, bank_id))]
    else:
        banks = await banks_in_scope(ctx)
    ctx.say("bank.ask_choose", choices=[(f"bank:{b.id}", Raw(b.name)) for b in banks[:MAX_CHOICES]])


async def answer_choose(ctx: Context, message: Inbound) -> str | None:
    """A chosen bank goes on to the action; a typed name is searched among the person's banks."""
    if message.kind is Kind.CHOICE:
        chosen = await ctx.session.get(WasteBank, int((message.choice or "").removeprefix("bank:")))
        return await use_bank(ctx, chosen) if chosen else COORDINATOR_MENU
    found = search_names(message.text, await banks_in_scope(ctx), lambda bank: bank.name, limit=MAX_CHOICES)
    if not found:
        ctx.say("bank.not_found", text=message.text[:40])
        return None
    if len(found) == 1:
        return await use_bank(ctx, found[0])
    ctx.draft(BankChoice).matches = [bank.id for bank in found]
    return State.CHOOSE


async def use_bank(ctx: Context, bank: WasteBank) -> str:
    """Checks the person may act for this bank, then goes where the action continues."""
    choice = ctx.draft(BankChoice)
    ctx.drop(BankChoice)
    if not await permit_bank(ctx, choice.action, bank.id, target=f"bank:{bank.id}"):
        return COORDINATOR_MENU
    ctx.begin(ChosenBank(bank.id))
    return choice.then


async def chosen_bank(ctx: Context) -> WasteBank:
    """The bank chosen for the action in progress."""
    bank_id = ctx.draft(ChosenBank).id
    chosen = await ctx.session.get(WasteBank, bank_id) if bank_id is not None else None
    if chosen is None:
        raise LookupError("the chosen bank is gone")
    return chosen


STEPS = {
    State.NAME: Step(ask_name, answer_name, N_("bank.help_name"), accepts=TEXT),
    State.ADDRESS: Step(ask_address, answer_address, N_("bank.help_address"), accepts=TEXT),
    State.KELURAHAN: Step(ask_kelurahan, answer_kelurahan, N_("bank.help_kelurahan"), accepts=TEXT),
    State.PICK: Step(ask_pick, answer_kelurahan, N_("bank.help_kelurahan"), accepts=TEXT),
    State.RWS: Step(ask_rws, answer_rws, N_("bank.help_rws"), accepts=TEXT),
    State.SCHEDULE: Step(ask_schedule, answer_schedule, N_("bank.help_schedule"), accepts=TEXT),
    State.CONFIRM: Step(ask_confirm, answer_confirm, N_("bank.help_confirm")),
    State.CHOOSE: Step(ask_choose, answer_choose, N_("bank.help_choose"), accepts=TEXT),
}
