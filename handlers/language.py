"""Language choice: Bahasa Indonesia or English, remembered per person."""

from __future__ import annotations

from enum import StrEnum

from handlers.dialog.machine import LANGUAGE, MENU, Context, Step
from handlers.messages import Inbound
from handlers.text.i18n import N_


class State(StrEnum):
    CHOOSE = LANGUAGE


CHOICES = (("lang:id", N_("language.name.id")), ("lang:en", N_("language.name.en")))


async def ask_language(ctx: Context) -> None:
    """Offers the two languages."""
    ctx.say("language.ask", choices=CHOICES)


async def set_language(ctx: Context, message: Inbound) -> str:
    """Remembers the chosen language and confirms in it; goes to the main menu."""
    ctx.person.locale = (message.choice or "lang:id").removeprefix("lang:")
    ctx.person.locale_chosen = True
    ctx.say("language.set")
    return MENU


STEPS = {State.CHOOSE: Step(ask=ask_language, answer=set_language, help=N_("language.help"))}
