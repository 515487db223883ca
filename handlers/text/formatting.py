"""Numbers, Rupiah, weights, dates and times shown through Babel in a person's locale, in Jakarta time.

Choices: Rupiah never show decimals (`Rp12.500`; English `IDR 12,500`, Babel's English symbol with a
space, since Babel gives `IDR12,500` without one); a minus sign leads (`-Rp12.500`). Weights under
1 kg show in grams (`500 g`), from 1 kg in kilograms with at most two decimals and no trailing zeros
(`2,5 kg`, `1,25 kg`), so a display is within 5 g of the weight. Times use 24 hours with the locale's
separator (`08.00`, `08:00`). Locales other than `id` and `en` get the English patterns.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from fractions import Fraction

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit

from storage import clock

_CURRENCY_PATTERNS = {"id": "¤#,##0", "en": "¤ #,##0"}
_TIME_PATTERNS = {"id": "HH.mm", "en": "HH:mm"}
_DATE_LONG = "EEEE, d MMMM y"
_DATE_SHORT = "EEE, d MMM y"
_FILLED, _EMPTY = "▓", "░"


def _language(locale: str) -> str:
    """`id` from `id`, `id_ID` or `id-ID`; English patterns for anything else."""
    language = locale.replace("-", "_").split("_")[0].lower()
    return language if language in _CURRENCY_PATTERNS else "en"


def rw_name(number: int, kelurahan: str) -> str:
    """`RW 005 Karet Tengsin`: an RW as every list and message names it."""
    return f"RW {number:03d} {kelurahan}"


def rupiah(amount: int, locale: str) -> str:
    """Whole Rupiah: `Rp12.500`, `-Rp12.500`; English `IDR 12,500`."""
    pattern = _CURRENCY_PATTERNS[_language(locale)]
    return format_currency(amount, "IDR", format=pattern, currency_digits=False, locale=locale)


def number(n: int, locale: str) -> str:
    """An integer with the locale's grouping: `1.200` in Indonesian, `1,200` in English."""
    return format_decimal(n, format="#,##0", locale=locale)


def weight(grams: int, locale: str) -> str:
    """`500 g` under 1 kg, else `2,5 kg` / `1,25 kg` (at most two decimals, trailing zeros dropped)."""
    if abs(grams) < 1000:
        return format_unit(grams, "mass-gram", "short", format="#,##0", locale=locale)
    return format_unit(Decimal(grams) / 1000, "mass-kilogram", "short", format="#,##0.##", locale=locale)


def date_long(d: date, locale: str) -> str:
    """`Sabtu, 5 Desember 2026`; English `Saturday, 5 December 2026`."""
    return format_date(d, _DATE_LONG, locale=locale)


def datetime_short(moment: datetime, locale: str, tz: tzinfo | None = None) -> str:
    """`Sab, 5 Des 2026 08.00` in local time (the configured zone unless `tz`); English `Sat, 5 Dec 2026 08:00`."""
    if moment.tzinfo is None:
        raise ValueError("moment must be aware")
    pattern = f"{_DATE_SHORT} {_TIME_PATTERNS[_language(locale)]}"
    return format_datetime(moment, pattern, tzinfo=tz or clock.zone(), locale=locale)


def time_of_day(t: time, locale: str) -> str:
    """`08.00` in Indonesian, `08:00` in English."""
    return format_time(t, _TIME_PATTERNS[_language(locale)], locale=locale)


def progress_bar(fraction: float | Fraction | Decimal, width: int = 10) -> str:
    """`▓▓▓▓▓▓░░░░ 60%`: clamped to 0–100%, rounded down so that only a complete bar shows 100%."""
    exact = min(max(_exact(fraction), Fraction(0)), Fraction(1))
    filled = math.floor(exact * width)
    return f"{_FILLED * filled}{_EMPTY * (width - filled)} {math.floor(exact * 100)}%"


def _exact(fraction: float | Fraction | Decimal) -> Fraction:
    """The fraction as written: a float by its shortest repr, so 0.29 is 29/100, not a hair below."""
    if isinstance(fraction, float):
        if math.isnan(fraction):
            return Fraction(0)
        if math.isinf(fraction):
            return Fraction(1 if fraction > 0 else 0)
        return Fraction(Decimal(repr(fraction)))
    return Fraction(fraction)
