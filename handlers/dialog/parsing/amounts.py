"""Rupiah amounts: `5.000`, `Rp 5.000.000,00`, `1,5 juta`, `2 rb`."""

from __future__ import annotations

import re
from fractions import Fraction

from handlers.dialog.parsing.numbers import (
    NEGATIVE,
    NOT_A_NUMBER,
    NUMBER,
    TOO_MUCH,
    UNKNOWN_UNIT,
    ZERO,
    ParseError,
    largest_first,
    normalize,
    read_number,
    round_half_up,
    split_pieces,
)

_CURRENCY = re.compile(r"(?P<minus>-)?\s*(?:(?:rp|idr)\.?)?\s*(?P<minus_after>-)?\s*(?P<body>.*)")
_CURRENCY_SUFFIX = re.compile(r"\s*(?:[.,]\s*-+|-+|rupiah|rp|idr)\s*$")
_GROUP_SPACE = re.compile(r"(?<=[0-9]) (?=[0-9]{3}(?![0-9]))")
_AMOUNT_PIECE = re.compile(rf"\s*(?P<number>{NUMBER})\s*(?P<multiplier>[a-z]+)?")
_MULTIPLIERS = {
    **dict.fromkeys(("ribu", "rb", "rbu", "k", "rebu", "thousand"), 10**3),
    **dict.fromkeys(("juta", "jt", "jta", "million", "mio", "mn"), 10**6),
    **dict.fromkeys(("miliar", "milyar", "miliard", "milyard", "m", "b", "bn", "billion"), 10**9),
    **dict.fromkeys(("triliun", "trilyun", "t", "tn", "trillion"), 10**12),
}


def parse_amount(text: str, max_rupiah: int = 100_000_000_000) -> int:
    """Whole Rupiah in `text` (`5.000.000`, `Rp 5.000.000,-`, `5 juta`, `2,5jt`, `500rb`, `1,2 M`)."""
    currency = _CURRENCY.fullmatch(normalize(text))
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
    rounded = round_half_up(rupiah)
    if rounded <= 0:
        raise ParseError(ZERO)
    return rounded


def _read_amount(text: str) -> Fraction:
    """Sum of number-multiplier pieces (`2 juta 500 ribu`); several pieces need multipliers, largest first."""
    pieces = split_pieces(_AMOUNT_PIECE, text)
    factors = [_multiplier(piece["multiplier"]) for piece in pieces]
    if not largest_first(factors):
        raise ParseError(NOT_A_NUMBER)
    values = (read_number(piece["number"], "." if factor else ".,") * (factor or 1)
              for piece, factor in zip(pieces, factors, strict=True))
    return sum(values, Fraction(0))


def _multiplier(word: str | None) -> int | None:
    """Rupiah per multiplier word; None when absent."""
    if word is None:
        return None
    if word not in _MULTIPLIERS:
        raise ParseError(UNKNOWN_UNIT)
    return _MULTIPLIERS[word]
