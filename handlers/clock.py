"""Calendar questions asked in Jakarta time: today, this month, weeks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def local(moment: datetime) -> datetime:
    return moment.astimezone(JAKARTA)


def today(now: datetime) -> date:
    return local(now).date()


def month_start(day: date) -> datetime:
    """Midnight in Jakarta on the first of the day's month, as an aware datetime."""
    return datetime.combine(day.replace(day=1), time(), tzinfo=JAKARTA)


def next_month_start(day: date) -> datetime:
    first = day.replace(day=1)
    return month_start((first + timedelta(days=32)).replace(day=1))


def week_streak(moments: list[datetime], now: datetime) -> int:
    """Weeks in a row (Monday to Sunday, Jakarta time) with at least one moment, counting back from
    this week, or from last week when this week has none yet."""
    weeks = {local(m).date() - timedelta(days=local(m).weekday()) for m in moments}
    week = today(now) - timedelta(days=today(now).weekday())
    if week not in weeks:
        week -= timedelta(days=7)
    streak = 0
    while week in weeks:
        streak += 1
        week -= timedelta(days=7)
    return streak
