"""Information about the resident's waste bank: prices per kg, weighing schedule, the RW's rank in
its kelurahan this month, and whom to contact."""

from __future__ import annotations

from handlers.dialog.machine import Context
from handlers.text.formatting import date_long, rupiah, time_of_day, weight
from handlers.text.i18n import N_
from storage import banks, places, reports
from storage.clock import month_start, next_month_start, today
from storage.models import WasteBank

WEEKDAYS = (
    N_("weekday.0"), N_("weekday.1"), N_("weekday.2"), N_("weekday.3"),
    N_("weekday.4"), N_("weekday.5"), N_("weekday.6"),
)


async def show_info(ctx: Context) -> None:
    """Bank, price list, schedule, rank and contact, as one message."""
    locale, day = ctx.person.locale, today(ctx.now)
    rw = await places.rw(ctx.session, ctx.person.rw_id)  # type: ignore[arg-type]
    bank = await banks.bank_for_rw(ctx.session, rw.id)
    parts = [ctx.t("info.bank", bank=bank.name) if bank else ctx.t("info.no_bank", rw=f"{rw.number:03d}")]
    prices = await banks.price_list(ctx.session, bank.id if bank else None, day)
    lines = [
        ctx.t("info.price_line", category=ctx.t(f"category.{c.code}"),
              price=rupiah(prices[c.code], locale) if prices.get(c.code) else ctx.t("info.not_bought"))
        for c in await banks.categories(ctx.session)
        if c.code in prices
    ]
    parts.append(ctx.t("info.prices", date=date_long(day, locale), lines="\n".join(lines)))
    if bank is not None:
        parts.append(schedule(ctx, bank))
    grams = await reports.verified_grams_by_rw(ctx.session, rw.kelurahan_code, month_start(day), next_month_start(day))
    if grams.get(rw.number):
        ranking = sorted(grams, key=lambda number: -grams[number])
        parts.append(ctx.t("info.rank", rw=f"{rw.number:03d}", rank=ranking.index(rw.number) + 1,
                           total=len(ranking), kelurahan=rw.kelurahan.name, weight=weight(grams[rw.number], locale)))
    else:
        parts.append(ctx.t("info.no_rank", rw=f"{rw.number:03d}", kelurahan=rw.kelurahan.name))
    if bank is not None and bank.contact:
        parts.append(ctx.t("info.contact", contact=bank.contact))
    ctx.say_text("\n\n".join(parts))


def schedule(ctx: Context, bank: WasteBank) -> str:
    if bank.weighing_weekday is None or bank.weighing_time is None:
        return ctx.t("info.no_schedule")
    return ctx.t("info.schedule", weekday=ctx.t(WEEKDAYS[bank.weighing_weekday]),
                 time=time_of_day(bank.weighing_time, ctx.person.locale))


async def contact_line(ctx: Context) -> str | None:
    """Whom a resident can ask, when their bank names a coordinator (BANTUAN adds it)."""
    if ctx.person.rw_id is None:
        return None
    bank = await banks.bank_for_rw(ctx.session, ctx.person.rw_id)
    return ctx.t("info.contact", contact=bank.contact) if bank and bank.contact else None
