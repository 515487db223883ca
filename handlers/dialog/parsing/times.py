"""Moments and weekly times: `besok 08.00`, `Sabtu 8:00`, `6/12 08.00`, `6 Des 2026 8.00 WIB`, `jam 7 malam`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from handlers.dialog.parsing.numbers import (
    IN_THE_PAST,
    MISSING_TIME,
    MISSING_WEEKDAY,
    NOT_A_TIME,
    TOO_FAR,
    WEEKDAY_MISMATCH,
    ParseError,
    normalize,
)
from storage.clock import zone as local_zone

_WHEN_TOKEN = re.compile(
    r"""
      (?P<iso>[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})(?![0-9])
    | (?P<dmy>[0-9]{1,2}[/-][0-9]{1,2}(?:[/-][0-9]{2,4})?|[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{2,4})(?![0-9])
    | (?P<clock>[0-9]{1,2}[.:][0-9]{2})(?![0-9])
    | (?:-|s/d|sd|sampai|hingga|until|to)\s*(?P<until>[0-9]{1,2}[.:][0-9]{2})(?![0-9])
    | (?P<integer>[0-9]+)
    | (?P<word>[a-z]+)
    | (?P<at>@)
    """,
    re.VERBOSE,
)
_WHEN_GAP = re.compile(r"[\s,;.]*")
_AM_PM = re.compile(r"\b([ap])\.\s?m\.?")
_RELATIVE = {"today": 0, "tonight": 0, "besok": 1, "esok": 1, "tomorrow": 1, "lusa": 2}
_WEEKDAYS = {
    **dict.fromkeys(("senin", "sen", "monday", "mon"), 0),
    **dict.fromkeys(("selasa", "sel", "tuesday", "tue", "tues"), 1),
    **dict.fromkeys(("rabu", "rab", "wednesday", "wed"), 2),
    **dict.fromkeys(("kamis", "kam", "thursday", "thu", "thur", "thurs"), 3),
    **dict.fromkeys(("jumat", "jum", "friday", "fri"), 4),
    **dict.fromkeys(("sabtu", "sab", "saturday", "sat"), 5),
    **dict.fromkeys(("minggu", "min", "ahad", "sunday", "sun"), 6),
}
_MONTHS = {
    **dict.fromkeys(("januari", "jan", "january"), 1),
    **dict.fromkeys(("februari", "pebruari", "feb", "peb", "february"), 2),
    **dict.fromkeys(("maret", "mar", "march"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mei", "may"), 5),
    **dict.fromkeys(("juni", "jun", "june"), 6),
    **dict.fromkeys(("juli", "jul", "july"), 7),
    **dict.fromkeys(("agustus", "agu", "agt", "ags", "agst", "aug", "august"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt", "oct", "october"), 10),
    **dict.fromkeys(("november", "nopember", "nov", "nop"), 11),
    **dict.fromkeys(("desember", "des", "dec", "december"), 12),
}
_PERIODS = {"pagi", "siang", "sore", "petang", "malam", "am", "pm"}
_ZONES = {"wib": 7, "wita": 8, "wit": 9}
_HOUR_MARKERS = {"jam", "pukul", "pkl", "pk", "at"}
_EVERY = {"setiap", "tiap", "every", "each"}
_NOISE = {"hari", "ini", "depan", "nanti", "tanggal", "tgl", "on", "the", "of", "this", "next", "coming"}
_WIB = 7
FARTHEST = timedelta(days=366)  # a moment further ahead is a slip of the keyboard


@dataclass
class _When:
    """The pieces of a written moment, before they are checked against each other."""

    relative: int | None = None
    weekday: int | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    hour: int | None = None
    minute: int | None = None
    period: str | None = None
    zone: int | None = None
    every: bool = False
    until: str | None = None

    def set(self, field: str, value: object) -> None:
        """Sets a piece once; a second, different value makes the text unreadable."""
        current = getattr(self, field)
        if current is not None and current != value:
            raise ParseError(NOT_A_TIME)
        setattr(self, field, value)

    @property
    def has_date(self) -> bool:
        """Whether any day was named."""
        return self.relative is not None or self.weekday is not None or self.month is not None


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, value) tokens; anything that is not a token makes the text unreadable."""
    text = _AM_PM.sub(r"\1m", text).replace("hari ini", "today").replace("malam ini", "tonight malam")
    tokens: list[tuple[str, str]] = []
    position = _after_gap(text, 0)
    while position < len(text):
        match = _WHEN_TOKEN.match(text, position)
        if not match or not match.lastgroup:
            raise ParseError(NOT_A_TIME)
        tokens.append((match.lastgroup, match[match.lastgroup]))
        position = _after_gap(text, match.end())
    return tokens


def _after_gap(text: str, position: int) -> int:
    """Position after any spaces, commas, semicolons or dots."""
    gap = _WHEN_GAP.match(text, position)
    return gap.end() if gap else position


def _scan_when(text: str) -> _When:
    """Reads days, dates, clock times, periods and zones in any order."""
    tokens, when = _tokens(normalize(text)), _When()
    for index, (kind, value) in enumerate(tokens):
        before = tokens[index - 1] if index else ("", "")
        after = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "iso":
            year, month, day = (int(part) for part in value.split("-"))
            _set_date(when, day, month, year)
        elif kind == "dmy":
            day, month, *year = (int(part) for part in re.split(r"[/.-]", value))
            _set_date(when, day, month, _full_year(year[0], value) if year else None)
        elif kind == "clock":
            hour, minute = (int(part) for part in re.split(r"[.:]", value))
            when.set("hour", hour)
            when.set("minute", minute)
        elif kind == "until":
            when.set("until", value)
        elif kind == "integer":
            _integer(when, value, before, after)
        elif kind == "at" or value in _HOUR_MARKERS or value in _NOISE:
            continue
        else:
            _word(when, value)
    return when


def _full_year(year: int, written: str) -> int:
    """A two-digit year is this century; three digits are unreadable."""
    digits = len(re.split(r"[/.-]", written)[-1])
    if digits == 3:
        raise ParseError(NOT_A_TIME)
    return year + 2000 if digits == 2 else year


def _set_date(when: _When, day: int, month: int, year: int | None) -> None:
    """Records a calendar date."""
    when.set("day", day)
    when.set("month", month)
    if year is not None:
        when.set("year", year)


def _integer(when: _When, value: str, before: tuple[str, str], after: tuple[str, str]) -> None:
    """A bare number is a day next to a month, a year after a month, or else an hour."""
    next_to_month = after[1] in _MONTHS or before[1] in _MONTHS and when.day is None
    if len(value) == 4 and when.month is not None:
        when.set("year", int(value))
    elif len(value) <= 2 and next_to_month:
        when.set("day", int(value))
    elif len(value) <= 2 and when.hour is None:
        when.set("hour", int(value))
    else:
        raise ParseError(NOT_A_TIME)


def _word(when: _When, word: str) -> None:
    """A day, weekday, month, period of the day, time zone or 'every'."""
    if word in _RELATIVE:
        when.set("relative", _RELATIVE[word])
    elif word in _WEEKDAYS:
        when.set("weekday", _WEEKDAYS[word])
    elif word in _MONTHS:
        when.set("month", _MONTHS[word])
    elif word in _PERIODS:
        when.set("period", word)
    elif word in _ZONES:
        when.set("zone", _ZONES[word])
    elif word in _EVERY:
        when.every = True
    else:
        raise ParseError(NOT_A_TIME)


def _clock(when: _When) -> time:
    """The time of day, with `pagi/siang/sore/malam` or am/pm applied."""
    if when.hour is None:
        raise ParseError(MISSING_TIME)
    return _checked_time(_with_period(when.hour, when.period), when.minute or 0)


def _with_period(hour: int, period: str | None) -> int:
    """Hour on the 24-hour clock: `7 malam` is 19, `2 siang` 14, `12 am` 0; `19.00 pagi` is unreadable."""
    if period is None:
        return hour
    if hour > 12:
        if period in ("am", "pagi"):
            raise ParseError(NOT_A_TIME)
        return hour
    if period in ("am", "pagi"):
        return 0 if hour == 12 and period == "am" else hour
    if period in ("pm", "sore", "petang"):
        return hour if hour == 12 else hour + 12
    if period == "siang":
        return hour + 12 if 1 <= hour <= 6 else hour
    return 0 if hour == 12 else hour + 12 if hour >= 6 else hour  # malam: `jam 2 malam` is 02.00


def _checked_time(hour: int, minute: int) -> time:
    """A valid clock time or NOT_A_TIME."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ParseError(NOT_A_TIME)
    return time(hour, minute)


def _zone(when: _When, default: tzinfo) -> tzinfo:
    """The zone the moment was written in: WIB/WITA/WIT when named, else the default."""
    return default if when.zone is None else timezone(timedelta(hours=when.zone))


def parse_schedule_time(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The future moment in `besok 08.00`, `Sabtu 8:00`, `6/12 08.00`, `6 Des 2026 8.00 WIB` (aware UTC),
    within a year (`31/12/9999` is a slip of the keyboard)."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    when = _scan_when(text)
    if not when.has_date and when.hour is None and when.day is None:
        raise ParseError(NOT_A_TIME)
    if when.every or when.until is not None:
        raise ParseError(NOT_A_TIME)
    clock, zone = _clock(when), _zone(when, tz or local_zone())
    today = now.astimezone(zone).date()
    day = _schedule_day(when, today, now, clock, zone)
    if when.weekday is not None and day.weekday() != when.weekday:
        raise ParseError(WEEKDAY_MISMATCH)
    moment = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
    if moment <= now:
        raise ParseError(IN_THE_PAST)
    if moment > now + FARTHEST:
        raise ParseError(TOO_FAR)
    return moment


def _schedule_day(when: _When, today: date, now: datetime, clock: time, zone: tzinfo) -> date:
    """The calendar day meant: a date, today plus an offset, the next such weekday, or today."""
    if when.day is not None or when.month is not None:
        if when.relative is not None or when.day is None or when.month is None:
            raise ParseError(NOT_A_TIME)
        return _calendar_day(when.day, when.month, when.year, today)
    if when.relative is not None:
        return today + timedelta(days=when.relative)
    if when.weekday is not None:
        day = today + timedelta(days=(when.weekday - today.weekday()) % 7)
        if datetime.combine(day, clock, tzinfo=zone) <= now:
            day += timedelta(days=7)
        return day
    return today


def _calendar_day(day: int, month: int, year: int | None, today: date) -> date:
    """A written date; without a year, the occurrence nearest to today."""
    if year is not None:
        if year < today.year:
            raise ParseError(IN_THE_PAST)
        try:
            return date(year, month, day)
        except ValueError:
            raise ParseError(NOT_A_TIME) from None
    candidates = []
    for candidate_year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(candidate_year, month, day))
        except ValueError:
            continue
    if not candidates:
        raise ParseError(NOT_A_TIME)
    return min(candidates, key=lambda candidate: abs(candidate - today))


def parse_weekday_time(text: str) -> tuple[int, time]:
    """(weekday with 0 = Monday, Jakarta time) from `Sabtu 08.00` or `setiap Sabtu jam 8 pagi`."""
    when = _scan_when(text)
    if when.relative is not None or when.day is not None or when.month is not None:
        raise ParseError(NOT_A_TIME)
    if when.weekday is None:
        raise ParseError(MISSING_WEEKDAY if when.hour is not None else NOT_A_TIME)
    clock = _clock(when)
    if when.until is not None:
        _checked_time(*(int(part) for part in re.split(r"[.:]", when.until)))
    shift = ((when.zone or _WIB) - _WIB) * 60
    minutes = (when.weekday * 24 * 60 + clock.hour * 60 + clock.minute - shift) % (7 * 24 * 60)
    return minutes // (24 * 60), time(minutes // 60 % 24, minutes % 60)


def parse_date(text: str, today: date) -> date:
    """The day in `hari ini`, `besok`, `lusa`, `Senin`, `6/12`, `6 Des 2026` or `2026-12-06` (no time of
    day); a weekday is its next occurrence, today included. Past dates are returned as they are."""
    when = _scan_when(text)
    if when.hour is not None or when.until is not None or when.every or when.zone is not None or when.period:
        raise ParseError(NOT_A_TIME)
    if when.day is not None or when.month is not None:
        if when.relative is not None or when.day is None or when.month is None:
            raise ParseError(NOT_A_TIME)
        day = _calendar_day(when.day, when.month, when.year, today)
    elif when.relative is not None:
        day = today + timedelta(days=when.relative)
    elif when.weekday is not None:
        day = today + timedelta(days=(when.weekday - today.weekday()) % 7)
    else:
        raise ParseError(NOT_A_TIME)
    if when.weekday is not None and day.weekday() != when.weekday:
        raise ParseError(WEEKDAY_MISMATCH)
    return day
