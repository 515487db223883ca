"""The one time zone people live in (the `TIMEZONE` setting, Asia/Jakarta unless set): every moment is
stored in UTC, and every calendar question (today, this month, a week, weighing day) is asked here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_zone = ZoneInfo("Asia/Jakarta")


def use(zone: ZoneInfo) -> None:
    """Set the zone for this process (the runtime does it once, from settings)."""
    global _zone
    _zone = zone


def zone() -> ZoneInfo:
    return _zone


def local(moment: datetime) -> datetime:
    return moment.astimezone(_zone)


def today(now: datetime) -> date:
    return local(now).date()


def at(day: date, clock: time) -> datetime:
    """That wall-clock time on that day, as an aware datetime."""
    return datetime.combine(day, clock, tzinfo=_zone)


def month_start(day: date) -> datetime:
    """Midnight on the first of the day's month, as an aware datetime."""
    return at(day.replace(day=1), time())


def next_month_start(day: date) -> datetime:
    first = day.replace(day=1)
    return month_start((first + timedelta(days=32)).replace(day=1))


def week_streak(moments: list[datetime], now: datetime) -> int:
    """Weeks in a row (Monday to Sunday) with at least one moment, counting back from this week, or
    from last week when this week has none yet."""
    weeks = {local(m).date() - timedelta(days=local(m).weekday()) for m in moments}
    week = today(now) - timedelta(days=today(now).weekday())
    if week not in weeks:
        week -= timedelta(days=7)
    streak = 0
    while week in weeks:
        streak += 1
        week -= timedelta(days=7)
    return streak
