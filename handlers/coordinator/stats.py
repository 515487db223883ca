"""Statistics for coordinators, what their roles cover: waste (a chart and a short summary) for
waste coordinators, pledge figures per RW and package for upgrading coordinators, both for admins;
and the deposits export. Everything is limited to the RWs they may see."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from handlers.coordinator import COORDINATOR_MENU
from handlers.coordinator.access import allowed, permit
from handlers.dialog.machine import Context, Step
from handlers.documents.charts import paired_bars
from handlers.documents.export import deposit_rows, to_csv, to_xlsx
from handlers.messages import Attachment, Inbound
from handlers.text.formatting import rupiah, rw_name, weight
from handlers.text.i18n import N_
from storage import stats
from storage.audit import audit
from storage.clock import month_start, next_month_start, today
from storage.models.roles import UPGRADING, WASTE
from storage.roles import scope

FORMATS = (("export:csv", N_("stats.export_csv")), ("export:xlsx", N_("stats.export_xlsx")))
WASTE_ACTION, PLEDGE_ACTION = "waste_stats", "upgrading_offers"
SHOWN_RWS = 8  # RWs listed one by one in the pledge figures (the most funded); the totals cover them all


class State(StrEnum):
    EXPORT = "coord.export"


async def show_stats(ctx: Context) -> str:
    """One message per strand the person's roles cover (waste, upgrading pledges); a person who
    covers neither is refused. Back to the coordinator menu."""
    waste = await allowed(ctx.session, ctx.person.id, ctx.roles, WASTE_ACTION)
    upgrading = await allowed(ctx.session, ctx.person.id, ctx.roles, PLEDGE_ACTION)
    if not (waste or upgrading):
        await permit(ctx, WASTE_ACTION)  # tells the person and audits the refusal
        return COORDINATOR_MENU
    if waste:
        await show_waste_stats(ctx)
    if upgrading:
        await show_pledge_stats(ctx)
    return COORDINATOR_MENU


async def show_waste_stats(ctx: Context) -> None:
    """This month's verified kg per category against last month, residents reporting against
    registered, and the top RWs, as a PNG chart with a short summary."""
    rw_ids = await scope(ctx.session, ctx.person.id, WASTE)
    day, locale = today(ctx.now), ctx.person.locale
    this_start, this_end = month_start(day), next_month_start(day)
    last_start = month_start((this_start - timedelta(days=1)).date())
    this = await stats.verified_grams_by_category(ctx.session, rw_ids, this_start, this_end)
    last = await stats.verified_grams_by_category(ctx.session, rw_ids, last_start, this_start)
    codes = sorted(set(this) | set(last), key=lambda code: -this.get(code, 0))
    rows = [(ctx.t(f"category.{code}"), this.get(code, 0), last.get(code, 0)) for code in codes]
    legend = (this_start.strftime("%m/%Y"), last_start.strftime("%m/%Y"))
    chart = paired_bars(ctx.t("stats.chart_title"), rows, legend, lambda grams: weight(grams, locale))
    reporting = await stats.residents_reporting(ctx.session, rw_ids, this_start, this_end)
    registered = await stats.residents_registered(ctx.session, rw_ids)
    top = await stats.top_rws(ctx.session, rw_ids, this_start, this_end)
    lines = [ctx.t("stats.summary", this=weight(sum(this.values()), locale), last=weight(sum(last.values()), locale),
                   reporting=reporting, registered=registered)]
    lines += [ctx.t("stats.top_line", rank=rank, rw=f"{number:03d}", kelurahan=name, weight=weight(grams, locale))
              for rank, (name, number, grams) in enumerate(top, start=1)]
    ctx.say_text("\n".join(lines), image=Attachment("statistik.png", chart))
    await audit(ctx.session, ctx.person.id, WASTE_ACTION, "ok", ctx.now)


async def show_pledge_stats(ctx: Context) -> None:
    """What the pledges and gifts to the person's upgrading RWs hold now, per RW and package (the
    most funded RWs, in name order), with the totals of all of them."""
    rw_ids = await scope(ctx.session, ctx.person.id, UPGRADING)
    figures = await stats.pledge_figures(ctx.session, rw_ids, ctx.now)
    await audit(ctx.session, ctx.person.id, "pledge_stats", "ok", ctx.now, offers=len(figures))
    if not figures:
        ctx.say("stats.pledges_none")
        return
    by_rw: dict[int, list[stats.PledgeFigures]] = {}
    for offer in figures:
        by_rw.setdefault(offer.rw_id, []).append(offer)
    shown = set(sorted(by_rw, key=lambda rw_id: -sum(f.total for f in by_rw[rw_id]))[:SHOWN_RWS])
    locale = ctx.person.locale
    lines = [ctx.t("stats.pledges_heading", rws=len(by_rw))]
    for rw_id in [rw_id for rw_id in by_rw if rw_id in shown]:
        first = by_rw[rw_id][0]
        lines.append(rw_name(first.rw, first.kelurahan))
        lines += [ctx.t("stats.pledges_line", package=offer.package, **amounts(offer, locale))
                  for offer in by_rw[rw_id]]
    if len(by_rw) > len(shown):
        lines.append(ctx.t("stats.pledges_more", count=len(by_rw) - len(shown)))
    lines.append(ctx.t("stats.pledges_total", **amounts(stats.pledge_totals(figures), locale)))
    ctx.say_text("\n".join(lines))


def amounts(figures: stats.PledgeFigures, locale: str) -> dict[str, str]:
    return {name: rupiah(getattr(figures, name), locale) for name in ("pledged", "confirmed", "received", "sedekah")}


async def start_export(ctx: Context) -> str:
    return State.EXPORT if await permit(ctx, "export_deposits") else COORDINATOR_MENU


async def ask_format(ctx: Context) -> None:
    ctx.say("stats.ask_format", choices=FORMATS)


async def answer_format(ctx: Context, message: Inbound) -> str:
    """Sends the deposits of the coordinator's RWs as a CSV or XLSX document."""
    rw_ids = await scope(ctx.session, ctx.person.id, WASTE)
    rows = await deposit_rows(ctx.session, rw_ids)
    kind = (message.choice or "export:csv").removeprefix("export:")
    content = to_xlsx(rows) if kind == "xlsx" else to_csv(rows)
    name = f"setoran-{today(ctx.now).isoformat()}.{kind}"
    ctx.say_text(ctx.t("stats.export_ready", count=len(rows)), document=Attachment(name, content))
    await audit(ctx.session, ctx.person.id, "export_deposits", "ok", ctx.now, rows=len(rows), format=kind)
    return COORDINATOR_MENU


STEPS = {State.EXPORT: Step(ask_format, answer_format, N_("stats.help_export"))}
