"""Redeeming an invite code (`/start inv_<code>` or `/kode <code>`): consent and a name first for
someone new, then the role the code grants."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers import consent, registration
from handlers.dialog.machine import MENU, TEXT, Context, Draft, Step
from handlers.messages import Inbound
from handlers.text.i18n import N_
from storage import invites
from storage.audit import audit
from storage.models.roles import ADMIN

OUTCOMES = {
    invites.INVALID: N_("invite.invalid"),
    invites.EXPIRED: N_("invite.expired"),
    invites.USED: N_("invite.used"),
    invites.WRONG_PHONE: N_("invite.wrong_phone"),
    invites.TOO_MANY: N_("invite.too_many"),
}
GRANTED = {ADMIN: N_("invite.granted_admin")}
GRANTED_COORDINATOR = N_("invite.granted_coordinator")


class State(StrEnum):
    CONSENT = "invite.consent"
    NAME = "invite.name"


@dataclass
class Redeeming(Draft):
    """The invite code kept while consent and a name are asked for."""

    KEY = "invite"
    code: str = ""


async def start_redeeming(ctx: Context, code: str) -> str | None:
    """Keeps the code while consent and a name are asked for, if they are missing."""
    if not code.strip():
        ctx.say("invite.ask_code")
        return None
    ctx.begin(Redeeming(code.strip()))
    if ctx.person.consent_at is None:
        return State.CONSENT
    if ctx.person.name is None:
        return State.NAME
    return await finish(ctx)


async def ask_consent(ctx: Context) -> None:
    consent.ask(ctx, N_("invite.notice"))


async def answer_consent(ctx: Context, message: Inbound) -> str:
    if not consent.given(ctx, message):
        ctx.drop(Redeeming)
        ctx.say("register.declined")
        return MENU
    return State.NAME if ctx.person.name is None else await finish(ctx)


async def answer_name(ctx: Context, message: Inbound) -> str | None:
    if await registration.answer_name(ctx, message) is None:
        return None
    return await finish(ctx)


async def finish(ctx: Context) -> str:
    """Redeems the kept code and says what it granted, or why it did not."""
    code = ctx.draft(Redeeming).code
    ctx.drop(Redeeming)
    outcome, invite = await invites.redeem(ctx.session, ctx.person.id, code, ctx.now)
    target = f"invite:{invite.id}" if invite else None
    await audit(ctx.session, ctx.person.id, "redeem_invite", outcome, ctx.now, target=target)
    if outcome != invites.GRANTED or invite is None:
        ctx.say(OUTCOMES[outcome])
        return MENU
    ctx.roles = ctx.roles | {invite.role}
    ctx.say(GRANTED.get(invite.role, GRANTED_COORDINATOR), count=len(invite.rw_ids.get("rw", [])))
    return MENU


STEPS = {
    State.CONSENT: Step(ask_consent, answer_consent, N_("invite.help")),
    State.NAME: Step(registration.ask_name, answer_name, N_("register.help_name"), accepts=TEXT),
}
