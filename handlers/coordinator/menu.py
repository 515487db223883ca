"""The coordinator menu: one entry per coordinator journey that has landed, shown to the roles the
action table allows (the action itself checks scope again)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_
from bot.messages import Inbound
from handlers.coordinator.access import ACTIONS
from handlers.dialog import MENU, Context, Step


class State(StrEnum):
    MAIN = "coord.menu"


@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    action: str  # the access rule that decides who sees it
    open: Callable[[Context], Awaitable[str]]


ENTRIES: tuple[Entry, ...] = ()
BACK = ("coord:back", N_("coord.back"))


def visible(ctx: Context) -> list[Entry]:
    return [entry for entry in ENTRIES if ctx.roles & ACTIONS[entry.action].roles]


async def ask_menu(ctx: Context) -> None:
    ctx.say("coord.ask", choices=[*((e.key, e.label) for e in visible(ctx)), BACK])


async def open_entry(ctx: Context, message: Inbound) -> str:
    entry = next((e for e in visible(ctx) if e.key == message.choice), None)
    return MENU if entry is None else await entry.open(ctx)


STEPS = {State.MAIN: Step(ask_menu, open_entry, N_("coord.help"))}
