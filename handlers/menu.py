"""The main menu: one entry per journey that has landed, shown to whom it serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from handlers import profile, registration, report, sedekah, withdraw
from handlers.collaborator import browse as collaborator_browse
from handlers.collaborator import mine as my_pledges
from handlers.collaborator.signup import is_collaborator
from handlers.coordinator import menu as coordinator_menu
from handlers.dialog.machine import LANGUAGE, MENU, Context, Step
from handlers.info import show_info
from handlers.messages import Inbound
from handlers.savings import show_savings
from handlers.text.i18n import N_


class State(StrEnum):
    MAIN = MENU


@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    open: Callable[[Context], Awaitable[str]]  # does what the entry does; returns the next state
    shown: Callable[[Context], Awaitable[bool]] | None = None  # None: shown to everyone


async def resident(ctx: Context) -> bool:
    return registration.is_resident(ctx.person)


async def may_report(ctx: Context) -> bool:
    """Residents, and newcomers (reporting starts their registration); not a collaborator who is not
    a resident, for whom it would only be noise."""
    return registration.is_resident(ctx.person) or not await is_collaborator(ctx)


async def newcomer(ctx: Context) -> bool:
    return not registration.is_resident(ctx.person)


async def staff(ctx: Context) -> bool:
    """Coordinators and admins, once a coordinator journey has landed for them."""
    return bool(coordinator_menu.visible(ctx))


async def _register(ctx: Context) -> str:
    return registration.start(ctx)


async def _report(ctx: Context) -> str:
    return report.begin(ctx)


async def _savings(ctx: Context) -> str:
    await show_savings(ctx)
    return MENU


async def _info(ctx: Context) -> str:
    await show_info(ctx)
    return MENU


async def _profile(ctx: Context) -> str:
    return profile.State.MAIN


async def _language(ctx: Context) -> str:
    return LANGUAGE


async def _coordinate(ctx: Context) -> str:
    return coordinator_menu.State.MAIN


async def _help(ctx: Context) -> str:
    ctx.say("help.general")
    return MENU


ENTRIES = (
    Entry("menu:register", N_("menu.register"), _register, newcomer),
    Entry("menu:report", N_("menu.report"), _report, may_report),
    Entry("menu:savings", N_("menu.savings"), _savings, resident),
    Entry("menu:withdraw", N_("menu.withdraw"), withdraw.begin, withdraw.has_account),
    Entry("menu:sedekah", N_("menu.sedekah"), sedekah.begin, sedekah.can_give),
    Entry("menu:info", N_("menu.info"), _info, resident),
    Entry("menu:upgrading", N_("menu.upgrading"), collaborator_browse.begin),
    Entry("menu:my_pledges", N_("menu.my_pledges"), my_pledges.begin, my_pledges.has_pledges),
    Entry("menu:profile", N_("menu.profile"), _profile, profile.has_profile),
    Entry("menu:coordinate", N_("menu.coordinate"), _coordinate, staff),
    Entry("menu:language", N_("menu.language"), _language, newcomer),
    Entry("menu:help", N_("menu.help"), _help),
)


async def ask_menu(ctx: Context) -> None:
    """Shows the entries that serve this person."""
    ctx.say("menu.ask", choices=[(e.key, e.label) for e in ENTRIES if await is_shown(e, ctx)])


async def is_shown(entry: Entry, ctx: Context) -> bool:
    return entry.shown is None or await entry.shown(ctx)


async def open_entry(ctx: Context, message: Inbound) -> str:
    """Opens the chosen entry."""
    entry = next(entry for entry in ENTRIES if entry.key == message.choice)
    return await entry.open(ctx)


STEPS = {State.MAIN: Step(ask=ask_menu, answer=open_entry, help=N_("help.general"))}
