"""Who may do what, where: one table of actions, checked on the server whatever buttons were shown,
with refusals audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dialog.machine import Context
from storage.audit import audit
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.roles import scope

STAFF = frozenset({COORDINATOR, ADMIN})
ADMINS = frozenset({ADMIN})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    strand: str | None = None  # a scoped action: allowed only on RWs the person coordinates in this strand


ACTIONS: dict[str, Rule] = {
    "weigh_in": Rule(STAFF, WASTE),
    "verify_report": Rule(STAFF, WASTE),
    "decide_withdrawal": Rule(STAFF, WASTE),
    "set_prices": Rule(STAFF, WASTE),
    "set_schedule": Rule(STAFF, WASTE),
    "register_bank": Rule(STAFF, WASTE),
    "waste_stats": Rule(STAFF, WASTE),
    "export_deposits": Rule(STAFF, WASTE),
    "broadcast_rws": Rule(STAFF, WASTE),
    "broadcast_pledgers": Rule(STAFF, UPGRADING),
    "broadcast_collaborators": Rule(ADMINS),
    "upgrading_offers": Rule(STAFF, UPGRADING),
    "broadcast_kelurahan": Rule(ADMINS),
    "broadcast_kota": Rule(ADMINS),
    "broadcast_all": Rule(ADMINS),
    "approve_broadcast": Rule(ADMINS),
    "invite": Rule(ADMINS),
    "revoke_role": Rule(ADMINS),
    "hand_over_rw": Rule(ADMINS),
}


async def allowed(
    session: AsyncSession, person_id: int, roles: frozenset[str], action: str, rw_ids: Iterable[int] = ()
) -> bool:
    """True when the person's roles allow the action on every one of the RWs named."""
    rule = ACTIONS[action]
    if not roles & rule.roles:
        return False
    if ADMIN in roles or rule.strand is None:
        return True
    wanted = set(rw_ids)
    covered = await scope(session, person_id, rule.strand)
    return covered is None or (bool(wanted) and wanted <= covered) or (not wanted and bool(covered))


async def permit(ctx: Context, action: str, rw_ids: Iterable[int] = (), target: str | None = None) -> bool:
    """Check, and on refusal tell the person and audit the attempt."""
    rw_ids = list(rw_ids)
    if await allowed(ctx.session, ctx.person.id, ctx.roles, action, rw_ids):
        return True
    await audit(ctx.session, ctx.person.id, action, "denied", ctx.now, target=target, rws=rw_ids)
    ctx.say("access.denied")
    return False
