"""The coordinator menu: one entry per coordinator journey that has landed, shown to the roles the
action table allows (the action itself checks scope again)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from handlers.coordinator import (
    COORDINATOR_MENU,
    banks,
    broadcast,
    invite_make,
    pledges,
    prices,
    progress,
    schedule,
    stats,
    verify,
    weighin,
    withdrawals,
)
from handlers.coordinator.access import ACTIONS
from handlers.dialog.machine import MENU, Context, Step
from handlers.messages import Inbound
from handlers.text.i18n import N_


class State(StrEnum):
    MAIN = COORDINATOR_MENU


@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    action: str  # the access rule that decides who sees it
    open: Callable[[Context], Awaitable[str]]


ENTRIES: tuple[Entry, ...] = (
    Entry("coord:weigh_in", N_("coord.weigh_in"), "weigh_in", weighin.begin),
    Entry("coord:verify", N_("coord.verify"), "verify_report", verify.begin),
    Entry("coord:stats", N_("coord.stats"), "waste_stats", stats.show_stats),
    Entry("coord:export", N_("coord.export"), "export_deposits", stats.start_export),
    Entry("coord:withdrawals", N_("coord.withdrawals"), "decide_withdrawal", withdrawals.open_list),
    Entry("coord:register_bank", N_("coord.register_bank"), "register_bank", banks.start_registering),
    Entry("coord:prices", N_("coord.prices"), "set_prices", prices.start),
    Entry("coord:schedule", N_("coord.schedule"), "set_schedule", schedule.start),
    Entry("coord:broadcast", N_("coord.broadcast"), "broadcast_rws", broadcast.begin),
    Entry("coord:approve", N_("coord.approve_broadcast"), "approve_broadcast", broadcast.open_approvals),
    Entry("coord:pledges", N_("coord.pledges"), "upgrading_offers", pledges.open_list),
    Entry("coord:progress", N_("coord.progress"), "upgrading_offers", progress.begin),
    Entry("coord:invite", N_("coord.invite"), "invite", invite_make.start),
)
BACK = ("coord:back", N_("coord.back"))


def visible(ctx: Context) -> list[Entry]:
    return [entry for entry in ENTRIES if ctx.roles & ACTIONS[entry.action].roles]


async def ask_menu(ctx: Context) -> None:
    ctx.say("coord.ask", choices=[*((e.key, e.label) for e in visible(ctx)), BACK])


async def open_entry(ctx: Context, message: Inbound) -> str:
    entry = next((e for e in visible(ctx) if e.key == message.choice), None)
    return MENU if entry is None else await entry.open(ctx)


STEPS = {State.MAIN: Step(ask_menu, open_entry, N_("coord.help"))}
