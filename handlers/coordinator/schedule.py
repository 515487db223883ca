"""Setting a bank's weekly weighing schedule (`Sabtu 08.00`); reminders follow it from the next tick."""

from __future__ import annotations

from enum import StrEnum

from handlers.coordinator import COORDINATOR_MENU
from handlers.coordinator.banks import (
    SCHEDULE_ERRORS,
    SCHEDULE_UNREADABLE,
    ChosenBank,
    choose_bank,
    chosen_bank,
    refuse,
    schedule_text,
)
from handlers.coordinator.waste_access import permit_bank
from handlers.dialog.machine import TEXT, Context, Step
from handlers.dialog.parsing import ParseError, parse_weekday_time
from handlers.messages import Inbound
from handlers.text.i18n import N_
from storage.audit import audit

ACTION = "set_schedule"


class State(StrEnum):
    ASK = "schedule.ask"


async def start(ctx: Context) -> str:
    """Choose the bank (if more than one), then the new schedule."""
    return await choose_bank(ctx, ACTION, State.ASK)


async def ask_schedule(ctx: Context) -> None:
    bank = await chosen_bank(ctx)
    current = schedule_text(ctx, bank.weighing_weekday, bank.weighing_time)
    ctx.say("schedule.ask", bank=bank.name, schedule=current)


async def answer_schedule(ctx: Context, message: Inbound) -> str | None:
    """Reads `Sabtu 08.00` and saves it (checking scope again); back to the coordinator menu."""
    bank = await chosen_bank(ctx)
    try:
        weekday, at = parse_weekday_time(message.text)
    except ParseError as error:
        await refuse(ctx, ACTION, error.reason, SCHEDULE_ERRORS.get(error.reason, SCHEDULE_UNREADABLE),
                     target=f"bank:{bank.id}")
        return None
    if not await permit_bank(ctx, ACTION, bank.id, target=f"bank:{bank.id}"):
        return COORDINATOR_MENU
    before = schedule_text(ctx, bank.weighing_weekday, bank.weighing_time)
    bank.weighing_weekday, bank.weighing_time = weekday, at
    await audit(ctx.session, ctx.person.id, ACTION, "ok", ctx.now, target=f"bank:{bank.id}",
                weekday=weekday, time=at.strftime("%H:%M"))
    ctx.drop(ChosenBank)
    ctx.say("schedule.saved", bank=bank.name, before=before, schedule=schedule_text(ctx, weekday, at))
    return COORDINATOR_MENU


STEPS = {State.ASK: Step(ask_schedule, answer_schedule, N_("schedule.help"), accepts=TEXT)}
