"""Statistics for coordinators (a chart and a short summary) and the deposits export, both limited
to the RWs they may see."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from bot.charts import paired_bars
from bot.export import deposit_rows, to_csv, to_xlsx
from bot.formatting import weight
from bot.i18n import N_
from bot.messages import Attachment, Inbound
from handlers.clock import month_start, next_month_start, today
from handlers.coordinator import COORDINATOR_MENU
from handlers.coordinator.access import permit
from handlers.dialog import Context, Step
from storage import stats
from storage.audit import audit
from storage.models.roles import WASTE
from storage.roles import scope

FORMATS = (("export:csv", N_("stats.export_csv")), ("export:xlsx", N_("stats.export_xlsx")))


class State(StrEnum):
    EXPORT = "coord.export"


async def show_stats(ctx: Context) -> str:
    """This month's verified kg per category against last month, residents reporting against
    registered, and the top RWs, as a PNG chart with a short summary; back to the coordinator menu."""
    if not await permit(ctx, "waste_stats"):
        return COORDINATOR_MENU
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
    await audit(ctx.session, ctx.person.id, "waste_stats", "ok", ctx.now)
    return COORDINATOR_MENU


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
