"""What weigh-ins and verification share: the banks a coordinator serves, the checks that guard every
step on the server, and the lines of a receipt."""

from __future__ import annotations

from handlers.coordinator import access
from handlers.dialog.machine import CHOICE_ONLY, MENU, Answer, Ask, Context, Draft, Step
from handlers.messages import Inbound, Kind
from handlers.report import category_name
from handlers.text.formatting import weight
from storage import roles
from storage import weighin as store
from storage.models import WasteBank
from storage.models.roles import WASTE

NO_RW = 0


async def banks_in_scope(ctx: Context) -> list[WasteBank]:
    """The banks serving at least one RW the person coordinates (every bank for an admin)."""
    return await store.banks_serving(ctx.session, await roles.scope(ctx.session, ctx.person.id, WASTE))


async def permit_bank(ctx: Context, action: str, bank_id: int, target: str | None = None) -> bool:
    """Allowed when the bank serves an RW in the person's waste scope; a refusal is said and audited."""
    rw_ids = await store.bank_rw_ids(ctx.session, bank_id)
    covered = await roles.scope(ctx.session, ctx.person.id, WASTE)
    served = rw_ids if covered is None else [rw for rw in rw_ids if rw in covered] or rw_ids
    # A bank serving no RW yet is nobody's but the admins': name an RW id no coordinator holds.
    return await access.permit(ctx, action, served or [NO_RW], target=target)


def guarded(action: str, answer: Answer, draft: type[Draft]) -> Answer:
    """The answer, run only while the person may still do the action at all (checked each turn, so a
    resident or a revoked coordinator left in the state is refused, audited and sent to the menu)."""

    async def checked(ctx: Context, message: Inbound) -> str | None:
        if not await access.permit(ctx, action):
            ctx.drop(draft)
            return MENU
        return await answer(ctx, message)

    checked.__doc__ = answer.__doc__
    return checked


def guarded_step(
    action: str, draft: type[Draft], ask: Ask, answer: Answer, help_key: str, accepts: frozenset[Kind] = CHOICE_ONLY
) -> Step:
    """A step of a coordinator flow whose answers are guarded by the flow's permission."""
    return Step(ask, guarded(action, answer, draft), help_key, accepts=accepts)


def item_text(ctx: Context, code: str, grams: int) -> str:
    """`2,5 kg botol PET`."""
    return ctx.t("report.item", weight=weight(grams, ctx.person.locale), category=ctx.t(category_name(code)))
