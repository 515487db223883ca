"""Tolerant parsers for what people type: weights, Rupiah amounts, RW numbers and times.

Each parser returns a value or raises `ParseError(reason)`; the reason is a stable code (see
`REASONS`) that a flow maps to a catalog message. There is no user-facing text here, and Babel's
`parse_decimal` is never used (`parse_decimal("2.5", locale="id")` returns 25).

Readings of ambiguous input, chosen for what a resident most likely means:
- A number with one separator is a decimal (`2,5` and `2.5` are both two and a half), except that
  one separator followed by exactly three digits groups thousands where a decimal would be absurd:
  grams (`1.500 gram` is 1500 g) and Rupiah without a multiplier (`5.000`, `12,500` are 5000 and
  12500). With kilograms, ons or no unit it stays a decimal: `1.500 kg` is 1,5 kg, and a bare
  `1.500` is 1500 g whether read as 1,5 kg or as 1.500 g. With a multiplier Indonesian use decides:
  `1.500 juta` is 1,5 miliar, `1,250 juta` is 1.250.000.
- Several separators of one kind group thousands (`5.000.000`); with both kinds the last one is the
  decimal separator (`Rp 5.000.000,00`, `1,234.5`).
- A bare number is kilograms; `M` is miliar (Indonesian use), never million.
- Weights and amounts are rounded half up to whole grams and whole Rupiah.
- Dates are day first (`6/12` is 6 December); a date without a year is the nearest occurrence
  (so a date a few days ago is in the past, and in late December `5/1` is next January).
- A weekday alone is its next occurrence at that time (today if the time is still ahead); `depan`
  ("next") and `ini` ("this") add nothing. A time alone is today. Times are local (the `TIMEZONE` setting) unless
  `WIB`, `WITA` or `WIT` says otherwise; `jam 7 malam` is 19.00, `jam 2 siang` 14.00.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from storage.clock import zone as local_zone

NOT_A_NUMBER = "not_a_number"
ZERO = "zero"
NEGATIVE = "negative"
TOO_HEAVY = "too_heavy"
TOO_MUCH = "too_much"
UNKNOWN_UNIT = "unknown_unit"
OUT_OF_RANGE = "out_of_range"
NOT_A_TIME = "not_a_time"
MISSING_TIME = "missing_time"
MISSING_WEEKDAY = "missing_weekday"
WEEKDAY_MISMATCH = "weekday_mismatch"
IN_THE_PAST = "in_the_past"
REASONS = frozenset({
    NOT_A_NUMBER, ZERO, NEGATIVE, TOO_HEAVY, TOO_MUCH, UNKNOWN_UNIT, OUT_OF_RANGE,
    NOT_A_TIME, MISSING_TIME, MISSING_WEEKDAY, WEEKDAY_MISMATCH, IN_THE_PAST,
})


class ParseError(ValueError):
    """Input that cannot be read; `reason` is one of `REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Shared text and number handling -------------------------------------------------------

_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe63\uff0d]")
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_NUMBER = r"[0-9]+(?:[.,][0-9]+)*"


def _normalize(text: str) -> str:
    """Lower case, NFKC, vulgar fractions spelled `1/2`, one kind of dash and single spaces."""
    spelled = "".join(_spell_fraction(char) for char in text)
    folded = unicodedata.normalize("NFKC", spelled).lower()
    folded = _APOSTROPHES.sub("", _DASHES.sub("-", folded.replace("\u2044", "/")))
    return _SPACES.sub(" ", folded).strip()


def _spell_fraction(char: str) -> str:
    """`½` becomes ` 1/2` so that `1½` reads as `1 1/2`; other characters stay."""
    if unicodedata.category(char) == "No" and "\u2044" in unicodedata.normalize("NFKC", char):
        return " " + unicodedata.normalize("NFKC", char).replace("\u2044", "/")
    return char


def _grouped(text: str, separator: str) -> Fraction:
    """An integer written with a thousands separator, groups of three checked."""
    head, *groups = text.split(separator)
    if not 1 <= len(head) <= 3 or any(len(group) != 3 for group in groups):
        raise ParseError(NOT_A_NUMBER)
    return Fraction(_digits(head + "".join(groups)))


def _read_number(text: str, thousands: str) -> Fraction:
    """Digits with `.`/`,`; a lone separator before exactly three digits groups only if in `thousands`."""
    if "." in text and "," in text:
        point = "." if text.rfind(".") > text.rfind(",") else ","
        whole, _, decimals = text.partition(point)
        if point in decimals:
            raise ParseError(NOT_A_NUMBER)
        return _grouped(whole, "," if point == "." else ".") + Fraction(Decimal("0." + decimals))
    separator = "." if "." in text else "," if "," in text else ""
    if not separator:
        return Fraction(Decimal(text))
    whole, *rest = text.split(separator)
    if len(rest) > 1 or (len(rest[0]) == 3 and separator in thousands and whole.strip("0")):
        return _grouped(text, separator)
    return Fraction(Decimal(f"{whole}.{rest[0]}"))


def _digits(text: str) -> int:
    """An integer from ASCII digits, however many (int() refuses over 4300 digits)."""
    return int(Decimal(text))


def _pieces(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """Consecutive matches of `pattern` that cover all of `text` (at least one), or NOT_A_NUMBER."""
    pieces: list[re.Match[str]] = []
    position = 0
    while position < len(text) or not pieces:
        match = pattern.match(text, position)
        if not match or match.end() == position:
            raise ParseError(NOT_A_NUMBER)
        pieces.append(match)
        position = match.end()
    return pieces


def _largest_first(sizes: list[int | None]) -> bool:
    """One piece, or several that each name a unit smaller than the one before (`1 kg 200 g`)."""
    if len(sizes) == 1:
        return True
    known = [size for size in sizes if size is not None]
    return len(known) == len(sizes) and all(big > small for big, small in pairwise(known))


def _round_half_up(value: Fraction) -> int:
    """Nearest integer, halves away from zero (values here are never negative)."""
    return math.floor(value + Fraction(1, 2))


# --- Weights -------------------------------------------------------------------------------

_APPROXIMATELY = re.compile(
    r"^(?:sekitar|kira-kira|kira2|kurang lebih|kurleb|kl|about|around|approx|\+-|\+/-|±|~)(?![a-z])\.?\s*"
)
_WEIGHT_PIECE = re.compile(
    rf"""
    \s*(?:
        (?P<whole>[0-9]+)\s+(?P<numerator>[0-9]+)\s*/\s*(?P<denominator>[0-9]+)   # 1 1/2
      | (?P<top>[0-9]+)\s*/\s*(?P<bottom>[0-9]+)                                   # 1/2
      | (?P<number>{_NUMBER})(?P<and_half>\s*setengah)?                           # 2,5 or 2 setengah
      | (?P<word>setengah|seperempat|tiga\s?perempat|se(?=\s?(?:kilo|kg|ons)))       # setengah, sekilo
    )
    \s*(?P<unit>[a-z]+(?:\s?gram\b)?)?
    """,
    re.VERBOSE,
)
_WORDS = {"setengah": Fraction(1, 2), "seperempat": Fraction(1, 4), "tigaperempat": Fraction(3, 4), "se": Fraction(1)}
_KILO = 1000
_ONS = 100
_UNITS = {
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilo gram", "kilogr"), _KILO),
    **dict.fromkeys(("ons", "onz"), _ONS),
    **dict.fromkeys(("g", "gr", "grm", "gram", "grams", "gm", "gms"), 1),
}


def parse_weight(text: str, max_grams: int = 100_000) -> int:
    """Grams in `text` (`2,5`, `1,5kg`, `500 gr`, `5 ons`, `setengah kilo`, `1 1/2 kg`, `1 kg 200 g`)."""
    cleaned = _APPROXIMATELY.sub("", _normalize(text)).rstrip(".").strip()
    negative = cleaned.startswith("-")
    grams = _read_weight(cleaned.removeprefix("-").lstrip().removeprefix("+").lstrip())
    if negative and grams:
        raise ParseError(NEGATIVE)
    if grams > max_grams:
        raise ParseError(TOO_HEAVY)
    rounded = _round_half_up(grams)
    if rounded <= 0:
        raise ParseError(ZERO)
    return rounded


def _read_weight(text: str) -> Fraction:
    """Sum of one or more quantity-unit pieces; several pieces need units, largest first."""
    pieces = _pieces(_WEIGHT_PIECE, text)
    units = [_unit_grams(piece["unit"]) for piece in pieces]
    if not _largest_first(units):
        raise ParseError(NOT_A_NUMBER)
    values = (_quantity(piece, unit or _KILO) * (unit or _KILO) for piece, unit in zip(pieces, units, strict=True))
    return sum(values, Fraction(0))


def _unit_grams(unit: str | None) -> int | None:
    """Grams per unit word; None when absent."""
    if unit is None:
        return None
    if unit not in _UNITS:
        raise ParseError(UNKNOWN_UNIT)
    return _UNITS[unit]


def _quantity(piece: re.Match[str], unit_grams: int) -> Fraction:
    """The number in one weight piece, in that piece's unit."""
    if piece["whole"] is not None:
        numerator, denominator = _digits(piece["numerator"]), _digits(piece["denominator"])
        if not 0 < numerator < denominator:
            raise ParseError(NOT_A_NUMBER)
        return _digits(piece["whole"]) + Fraction(numerator, denominator)
    if piece["top"] is not None:
        if _digits(piece["bottom"]) == 0:
            raise ParseError(NOT_A_NUMBER)
        return Fraction(_digits(piece["top"]), _digits(piece["bottom"]))
    if piece["number"] is not None:
        if piece["and_half"] and not piece["number"].isdigit():
            raise ParseError(NOT_A_NUMBER)
        value = _read_number(piece["number"], ".," if unit_grams == 1 else "")
        return value + (Fraction(1, 2) if piece["and_half"] else 0)
    return _WORDS[piece["word"].replace(" ", "")]


# --- Rupiah amounts ------------------------------------------------------------------------

_CURRENCY = re.compile(r"(?P<minus>-)?\s*(?:(?:rp|idr)\.?)?\s*(?P<minus_after>-)?\s*(?P<body>.*)")
_CURRENCY_SUFFIX = re.compile(r"\s*(?:[.,]\s*-+|-+|rupiah|rp|idr)\s*$")
_GROUP_SPACE = re.compile(r"(?<=[0-9]) (?=[0-9]{3}(?![0-9]))")
_AMOUNT_PIECE = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<multiplier>[a-z]+)?")
_MULTIPLIERS = {
    **dict.fromkeys(("ribu", "rb", "rbu", "k", "rebu", "thousand"), 10**3),
    **dict.fromkeys(("juta", "jt", "jta", "million", "mio", "mn"), 10**6),
    **dict.fromkeys(("miliar", "milyar", "miliard", "milyard", "m", "b", "bn", "billion"), 10**9),
    **dict.fromkeys(("triliun", "trilyun", "t", "tn", "trillion"), 10**12),
}


def parse_amount(text: str, max_rupiah: int = 100_000_000_000) -> int:
    """Whole Rupiah in `text` (`5.000.000`, `Rp 5.000.000,-`, `5 juta`, `2,5jt`, `500rb`, `1,2 M`)."""
    currency = _CURRENCY.fullmatch(_normalize(text))
    if not currency:
        raise ParseError(NOT_A_NUMBER)
    body = currency["body"]
    while (suffix := _CURRENCY_SUFFIX.search(body)) and suffix.start() > 0:
        body = body[: suffix.start()]
    rupiah = _read_amount(_GROUP_SPACE.sub("", body))
    if (currency["minus"] or currency["minus_after"]) and rupiah:
        raise ParseError(NEGATIVE)
    if rupiah > max_rupiah:
        raise ParseError(TOO_MUCH)
    rounded = _round_half_up(rupiah)
    if rounded <= 0:
        raise ParseError(ZERO)
    return rounded


def _read_amount(text: str) -> Fraction:
    """Sum of number-multiplier pieces (`2 juta 500 ribu`); several pieces need multipliers, largest first."""
    pieces = _pieces(_AMOUNT_PIECE, text)
    factors = [_multiplier(piece["multiplier"]) for piece in pieces]
    if not _largest_first(factors):
        raise ParseError(NOT_A_NUMBER)
    values = (_read_number(piece["number"], "." if factor else ".,") * (factor or 1)
              for piece, factor in zip(pieces, factors, strict=True))
    return sum(values, Fraction(0))


def _multiplier(word: str | None) -> int | None:
    """Rupiah per multiplier word; None when absent."""
    if word is None:
        return None
    if word not in _MULTIPLIERS:
        raise ParseError(UNKNOWN_UNIT)
    return _MULTIPLIERS[word]


# --- RW numbers ----------------------------------------------------------------------------

_RW = re.compile(
    r"""
      (?:rw\.?\s*[:#-]?\s*)?(?P<plain>-?\s*[0-9]+)\.?                          # 12, 012, RW 12, Rw. 012
    | rt\.?\s*[0-9]+\s*[/,]?\s*rw\.?\s*(?P<after_rt>[0-9]+)                   # RT 03/RW 012
    | rw\.?\s*(?P<before_rt>[0-9]+)\s*[/,]?\s*rt\.?\s*[0-9]+                  # RW 012/RT 03
    """,
    re.VERBOSE,
)


def parse_rw_number(text: str) -> int:
    """The RW number in `12`, `012`, `RW 12`, `rw12`, `Rw. 012` or `RT 03/RW 012`, from 1 to 99."""
    match = _RW.fullmatch(_normalize(text))
    if not match:
        raise ParseError(NOT_A_NUMBER)
    digits = (match["plain"] or match["after_rt"] or match["before_rt"]).replace(" ", "")
    if digits.startswith("-"):
        raise ParseError(OUT_OF_RANGE)
    significant = digits.lstrip("0")
    if not significant or len(significant) > 2:
        raise ParseError(OUT_OF_RANGE)
    return int(significant)


# --- Times ---------------------------------------------------------------------------------

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
    tokens, when = _tokens(_normalize(text)), _When()
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
    """The future moment in `besok 08.00`, `Sabtu 8:00`, `6/12 08.00`, `6 Des 2026 8.00 WIB` (aware UTC)."""
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
