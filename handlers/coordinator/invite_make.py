"""Admins make invite codes in the chat: the role, and for a coordinator the kelurahan and RWs;
the code is shown once (only its hash is kept)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from handlers import place_pick
from handlers.coordinator import COORDINATOR_MENU
from handlers.coordinator.access import permit
from handlers.coordinator.banks import parse_rw_numbers
from handlers.dialog.machine import TEXT, Context, Draft, Step
from handlers.dialog.parsing import ParseError
from handlers.messages import Inbound
from handlers.text.i18n import N_
from storage import invites, places
from storage.audit import audit
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE

ROLES = (
    ("role:waste", N_("invite_make.role_waste")),
    ("role:upgrading", N_("invite_make.role_upgrading")),
    ("role:admin", N_("invite_make.role_admin")),
)
STRANDS = {"role:waste": WASTE, "role:upgrading": UPGRADING}


class State(StrEnum):
    ROLE = "invite_make.role"
    KELURAHAN = "invite_make.kelurahan"
    RWS = "invite_make.rws"


async def start(ctx: Context) -> str:
    return State.ROLE if await permit(ctx, "invite") else COORDINATOR_MENU


async def ask_role(ctx: Context) -> None:
    ctx.say("invite_make.ask_role", choices=ROLES)


@dataclass
class NewInvite(Draft):
    """A coordinator's invite code being made: its strand and RWs' kelurahan."""

    KEY = "invite_make"
    strand: str = WASTE
    kelurahan: str = ""  # its code
    matches: list[str] = field(default_factory=list)  # kelurahan codes a typed name matched


async def answer_role(ctx: Context, message: Inbound) -> str:
    """An admin code is made at once; a coordinator code needs its RWs first."""
    if message.choice == "role:admin":
        return await make(ctx, ADMIN, None, [])
    ctx.begin(NewInvite(STRANDS.get(message.choice or "", WASTE)))
    return State.KELURAHAN


async def ask_kelurahan(ctx: Context) -> None:
    await place_pick.offer(ctx, N_("invite_make.ask_kelurahan"), ctx.draft(NewInvite).matches)


async def answer_kelurahan(ctx: Context, message: Inbound) -> str | None:
    """A typed kelurahan name (typos forgiven); several matches are offered to choose from."""
    draft = ctx.draft(NewInvite)
    if code := place_pick.chosen(message):
        draft.kelurahan = code
        return State.RWS
    codes = await place_pick.search(ctx, message.text)
    if len(codes) > 1:
        draft.matches = codes
        return State.KELURAHAN
    if codes:
        draft.kelurahan = codes[0]
        return State.RWS
    return None


async def ask_rws(ctx: Context) -> None:
    kelurahan = await places.kelurahan(ctx.session, ctx.draft(NewInvite).kelurahan)
    ctx.say("invite_make.ask_rws", kelurahan=kelurahan.name if kelurahan else "")


async def answer_rws(ctx: Context, message: Inbound) -> str | None:
    try:
        numbers = parse_rw_numbers(message.text)
    except ParseError:
        ctx.say("register.rw_not_a_number")
        return None
    draft = ctx.draft(NewInvite)
    rw_ids = [(await places.get_or_create_rw(ctx.session, draft.kelurahan, n)).id for n in numbers]
    return await make(ctx, COORDINATOR, draft.strand, rw_ids)


async def make(ctx: Context, role: str, strand: str | None, rw_ids: list[int]) -> str:
    """Creates the code (checked again on the server), shows it once, and audits it."""
    ctx.drop(NewInvite)
    if not await permit(ctx, "invite"):
        return COORDINATOR_MENU
    code = await invites.create_invite(ctx.session, role, ctx.now, strand=strand, rw_ids=rw_ids, created_by=ctx.person.id)
    await audit(ctx.session, ctx.person.id, "invite", "ok", ctx.now, role=role, rws=rw_ids)
    ctx.say("invite_make.code", code=code, hours=72)
    return COORDINATOR_MENU


STEPS = {
    State.ROLE: Step(ask_role, answer_role, N_("invite_make.help")),
    State.KELURAHAN: Step(ask_kelurahan, answer_kelurahan, N_("invite_make.help"), accepts=TEXT),
    State.RWS: Step(ask_rws, answer_rws, N_("invite_make.help"), accepts=TEXT),
}
