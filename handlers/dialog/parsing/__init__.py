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

from handlers.dialog.parsing.amounts import parse_amount
from handlers.dialog.parsing.numbers import (
    IN_THE_PAST,
    MISSING_TIME,
    MISSING_WEEKDAY,
    NEGATIVE,
    NOT_A_NUMBER,
    NOT_A_TIME,
    OUT_OF_RANGE,
    REASONS,
    TOO_FAR,
    TOO_HEAVY,
    TOO_MUCH,
    UNKNOWN_UNIT,
    WEEKDAY_MISMATCH,
    ZERO,
    ParseError,
)
from handlers.dialog.parsing.rw import parse_rw_number
from handlers.dialog.parsing.times import parse_date, parse_schedule_time, parse_weekday_time
from handlers.dialog.parsing.weights import parse_weight

__all__ = [
    "IN_THE_PAST", "MISSING_TIME", "MISSING_WEEKDAY", "NEGATIVE", "NOT_A_NUMBER", "NOT_A_TIME", "OUT_OF_RANGE",
    "REASONS", "TOO_FAR", "TOO_HEAVY", "TOO_MUCH", "UNKNOWN_UNIT", "WEEKDAY_MISMATCH", "ZERO", "ParseError", "parse_amount",
    "parse_date", "parse_rw_number", "parse_schedule_time", "parse_weekday_time", "parse_weight",
]
