"""RW numbers: `12`, `012`, `RW 12`, `rw.012`."""

from __future__ import annotations

import re

from handlers.dialog.parsing.numbers import NOT_A_NUMBER, OUT_OF_RANGE, ParseError, normalize

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
    match = _RW.fullmatch(normalize(text))
    if not match:
        raise ParseError(NOT_A_NUMBER)
    digits = (match["plain"] or match["after_rt"] or match["before_rt"]).replace(" ", "")
    if digits.startswith("-"):
        raise ParseError(OUT_OF_RANGE)
    significant = digits.lstrip("0")
    if not significant or len(significant) > 2:
        raise ParseError(OUT_OF_RANGE)
    return int(significant)
