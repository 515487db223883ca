"""The main menu: one entry per journey that has landed, and general help."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_
from bot.messages import Inbound
from handlers.dialog import LANGUAGE, MENU, Context, Step


class State(StrEnum):
    MAIN = MENU


@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    target: str | None  # the state it opens; None shows general help


ENTRIES = (
    Entry("menu:language", N_("menu.language"), LANGUAGE),
    Entry("menu:help", N_("menu.help"), None),
)


async def ask_menu(ctx: Context) -> None:
    """Shows the main menu."""
    ctx.say("menu.ask", choices=[(entry.key, entry.label) for entry in ENTRIES])


async def open_entry(ctx: Context, message: Inbound) -> str:
    """Opens the chosen journey; help explains the bot and shows the menu again."""
    entry = next(entry for entry in ENTRIES if entry.key == message.choice)
    if entry.target is None:
        ctx.say("help.general")
        return MENU
    return entry.target


STEPS = {State.MAIN: Step(ask=ask_menu, answer=open_entry, help=N_("help.general"))}
