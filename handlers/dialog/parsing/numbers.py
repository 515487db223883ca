"""What every parser shares: the reasons input cannot be read, and reading numbers as people write them."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

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
TOO_FAR = "too_far"
REASONS = frozenset({
    NOT_A_NUMBER, ZERO, NEGATIVE, TOO_HEAVY, TOO_MUCH, UNKNOWN_UNIT, OUT_OF_RANGE,
    NOT_A_TIME, MISSING_TIME, MISSING_WEEKDAY, WEEKDAY_MISMATCH, IN_THE_PAST, TOO_FAR,
})


class ParseError(ValueError):
    """Input that cannot be read; `reason` is one of `REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe63\uff0d]")
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
NUMBER = r"[0-9]+(?:[.,][0-9]+)*"


def normalize(text: str) -> str:
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
    return Fraction(digits(head + "".join(groups)))


def read_number(text: str, thousands: str) -> Fraction:
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


def digits(text: str) -> int:
    """An integer from ASCII digits, however many (int() refuses over 4300 digits)."""
    return int(Decimal(text))


def split_pieces(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
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


def largest_first(sizes: list[int | None]) -> bool:
    """One piece, or several that each name a unit smaller than the one before (`1 kg 200 g`)."""
    if len(sizes) == 1:
        return True
    known = [size for size in sizes if size is not None]
    return len(known) == len(sizes) and all(big > small for big, small in pairwise(known))


def factor(word: str | None, table: dict[str, int]) -> int | None:
    """What a unit or multiplier word stands for (`kg`: 1000 g, `juta`: 1000000); None when absent."""
    if word is None:
        return None
    if word not in table:
        raise ParseError(UNKNOWN_UNIT)
    return table[word]


def whole(value: Fraction, negative: bool, limit: int, too_big: str) -> int:
    """The quantity rounded half up, once it is known to be positive and at most `limit`."""
    if negative and value:
        raise ParseError(NEGATIVE)
    if value > limit:
        raise ParseError(too_big)
    rounded = round_half_up(value)
    if rounded <= 0:
        raise ParseError(ZERO)
    return rounded


def round_half_up(value: Fraction) -> int:
    """Nearest integer, halves away from zero (values here are never negative)."""
    return math.floor(value + Fraction(1, 2))
