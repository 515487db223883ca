"""`Saldo`: member number and verified balance per bank, what awaits weighing, recent reports,
kg sorted this month, and weeks in a row with a report."""

from __future__ import annotations

from datetime import timedelta

from handlers.dialog.machine import Context
from handlers.text.formatting import date_long, rupiah, weight
from handlers.text.i18n import N_
from storage import banks, reports
from storage.clock import local, month_start, next_month_start, today, week_streak

STATUS = {
    reports.REPORTED: N_("savings.status_reported"),
    reports.VERIFIED: N_("savings.status_verified"),
    reports.REJECTED: N_("savings.status_rejected"),
    reports.SETTLED: N_("savings.status_settled"),
    reports.REVERSED: N_("savings.status_reversed"),
}


async def show_savings(ctx: Context) -> None:
    """One message with everything about the resident's savings."""
    person, locale = ctx.person, ctx.person.locale
    parts = [ctx.t("savings.title", name=person.name)]
    accounts = await banks.savings(ctx.session, person.id)
    for account, amount in accounts:
        parts.append(ctx.t("savings.account", bank=account.bank.name, member=account.member_number,
                           balance=rupiah(amount, locale)))
    if not accounts:
        parts.append(ctx.t("savings.no_account"))
    count, value = await reports.pending(ctx.session, person.id)
    if count:
        parts.append(ctx.t("savings.pending", count=count, value=rupiah(value, locale)))
    recent = await reports.recent_reports(ctx.session, person.id)
    if recent:
        lines = [
            ctx.t("savings.report_line", date=date_long(local(r.reported_at).date(), locale),
                  weight=weight(sum(i.grams for i in r.items), locale), status=ctx.t(STATUS[r.status]))
            for r in recent
        ]
        parts.append(ctx.t("savings.recent", lines="\n".join(lines)))
    day = today(ctx.now)
    grams = await reports.grams_between(ctx.session, person.id, month_start(day), next_month_start(day))
    parts.append(ctx.t("savings.month", weight=weight(grams, locale)))
    times = await reports.report_times(ctx.session, person.id, ctx.now - timedelta(weeks=60))
    streak = week_streak(times, ctx.now)
    if streak:
        parts.append(ctx.t("savings.streak", weeks=streak))
    ctx.say_text("\n\n".join(parts))
