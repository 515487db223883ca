"""Weights: `2,5 kg`, `500 gram`, `5 ons`, `setengah kilo`, `1 kg 200 g`, `kurang lebih 2 kilo`."""

from __future__ import annotations

import re
from fractions import Fraction

from handlers.dialog.parsing.numbers import (
    NOT_A_NUMBER,
    NUMBER,
    TOO_HEAVY,
    ParseError,
    digits,
    factor,
    largest_first,
    normalize,
    read_number,
    split_pieces,
    whole,
)

_APPROXIMATELY = re.compile(
    r"^(?:sekitar|kira-kira|kira2|kurang lebih|kurleb|kl|about|around|approx|\+-|\+/-|±|~)(?![a-z])\.?\s*"
)
_WEIGHT_PIECE = re.compile(
    rf"""
    \s*(?:
        (?P<whole>[0-9]+)\s+(?P<numerator>[0-9]+)\s*/\s*(?P<denominator>[0-9]+)   # 1 1/2
      | (?P<top>[0-9]+)\s*/\s*(?P<bottom>[0-9]+)                                   # 1/2
      | (?P<number>{NUMBER})(?P<and_half>\s*setengah)?                           # 2,5 or 2 setengah
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
    cleaned = _APPROXIMATELY.sub("", normalize(text)).rstrip(".").strip()
    grams = _read_weight(cleaned.removeprefix("-").lstrip().removeprefix("+").lstrip())
    return whole(grams, cleaned.startswith("-"), max_grams, TOO_HEAVY)


def _read_weight(text: str) -> Fraction:
    """Sum of one or more quantity-unit pieces; several pieces need units, largest first."""
    pieces = split_pieces(_WEIGHT_PIECE, text)
    units = [factor(piece["unit"], _UNITS) for piece in pieces]
    if not largest_first(units):
        raise ParseError(NOT_A_NUMBER)
    values = (_quantity(piece, unit or _KILO) * (unit or _KILO) for piece, unit in zip(pieces, units, strict=True))
    return sum(values, Fraction(0))


def _quantity(piece: re.Match[str], unit_grams: int) -> Fraction:
    """The number in one weight piece, in that piece's unit."""
    if piece["whole"] is not None:
        numerator, denominator = digits(piece["numerator"]), digits(piece["denominator"])
        if not 0 < numerator < denominator:
            raise ParseError(NOT_A_NUMBER)
        return digits(piece["whole"]) + Fraction(numerator, denominator)
    if piece["top"] is not None:
        if digits(piece["bottom"]) == 0:
            raise ParseError(NOT_A_NUMBER)
        return Fraction(digits(piece["top"]), digits(piece["bottom"]))
    if piece["number"] is not None:
        if piece["and_half"] and not piece["number"].isdigit():
            raise ParseError(NOT_A_NUMBER)
        value = read_number(piece["number"], ".," if unit_grams == 1 else "")
        return value + (Fraction(1, 2) if piece["and_half"] else 0)
    return _WORDS[piece["word"].replace(" ", "")]
