"""Rupiah amounts: `5.000`, `Rp 5.000.000,00`, `1,5 juta`, `2 rb`."""

from __future__ import annotations

import re
from fractions import Fraction

from handlers.dialog.parsing.numbers import (
    NOT_A_NUMBER,
    NUMBER,
    TOO_MUCH,
    ParseError,
    factor,
    largest_first,
    normalize,
    read_number,
    split_pieces,
    whole,
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
    return whole(rupiah, bool(currency["minus"] or currency["minus_after"]), max_rupiah, TOO_MUCH)


def _read_amount(text: str) -> Fraction:
    """Sum of number-multiplier pieces (`2 juta 500 ribu`); several pieces need multipliers, largest first."""
    pieces = split_pieces(_AMOUNT_PIECE, text)
    factors = [factor(piece["multiplier"], _MULTIPLIERS) for piece in pieces]
    if not largest_first(factors):
        raise ParseError(NOT_A_NUMBER)
    values = (read_number(piece["number"], "." if times else ".,") * (times or 1)
              for piece, times in zip(pieces, factors, strict=True))
    return sum(values, Fraction(0))

