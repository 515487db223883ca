"""Reading a one-line weigh-in: who first (a member number or a phone number), then each category
word with its weight: `1234 PET 2,5 kardus 1`, `0812-3456-7890 minyak jelantah 2 kg hvs 5 ons`.

Category words are the aliases in the seed data; two words of one category in a row name it once
(`minyak jelantah`). Whatever follows a category word up to the next one is its weight, read by
`parse_weight`; the same category twice adds up. No user-facing text here: errors carry a reason
code and the word they are about."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from handlers.dialog.parsing import TOO_HEAVY, ParseError, parse_weight
from storage.people import PHONE_START, e164

MEMBER_INVALID = "member_invalid"
CATEGORY_UNKNOWN = "category_unknown"
WEIGHT_FIRST = "weight_first"
WEIGHT_MISSING = "weight_missing"

_CONNECTORS = frozenset({"+", "&", "dan", "and"})
_PHONE_PART = re.compile(r"^[0-9().-]+$")
_MEMBER = re.compile(r"^#?([1-9][0-9]{0,8})$")


class LineError(ValueError):
    """A line that cannot be read; `reason` is one of the codes above or a `parse_weight` reason,
    `word` is what it is about (the word typed, or the category code for a weight)."""

    def __init__(self, reason: str, word: str = "") -> None:
        super().__init__(reason, word)
        self.reason = reason
        self.word = word


@dataclass(frozen=True)
class Who:
    """A member number at the bank, or a phone number in E.164 (`+62…`)."""

    member: int | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Line:
    who: Who
    items: tuple[tuple[str, int], ...]


def _who(words: list[str]) -> tuple[Who, int]:
    """Who the line is for, and how many words that took (a phone may be typed in groups)."""
    if not words:
        raise LineError(MEMBER_INVALID)
    member = _MEMBER.match(words[0])
    if member:
        return Who(member=int(member.group(1))), 1
    if PHONE_START.match(words[0].replace("(", "")) or words[0].startswith("+"):
        taken = 1
        while taken < len(words) and _PHONE_PART.match(words[taken]) and e164("".join(words[:taken])) is None:
            taken += 1
        phone = e164("".join(words[:taken]))
        if phone is not None:
            return Who(phone=phone), taken
    raise LineError(MEMBER_INVALID, words[0])


def _weight_word(word: str) -> bool:
    """Whether a word can be part of a weight (`2,5`, `kg`, `ons`, `setengah`, `sekilo`)."""
    if any(ch.isdigit() for ch in word):
        return True
    for text in (word, f"1 {word}"):
        try:
            parse_weight(text, max_grams=10**9)
        except ParseError:
            continue
        return True
    return False


def parse_items(words: list[str], aliases: Mapping[str, str], max_grams: int) -> tuple[tuple[str, int], ...]:
    """(category code, grams) for `PET 2,5 kardus 1`, in the order typed, repeated categories added up."""
    groups: list[tuple[str, list[str]]] = []
    for typed in words:
        word = typed.lower().rstrip(",;:=")
        if not word or word in _CONNECTORS:
            continue
        code = aliases.get(word)
        if code is not None:
            if not (groups and groups[-1][0] == code and not groups[-1][1]):
                groups.append((code, []))
        elif _weight_word(word):
            if not groups:
                raise LineError(WEIGHT_FIRST, typed)
            groups[-1][1].append(word)
        else:
            raise LineError(CATEGORY_UNKNOWN, typed)
    totals: dict[str, int] = {}
    for code, weight_words in groups:
        if not weight_words:
            raise LineError(WEIGHT_MISSING, code)
        try:
            grams = parse_weight(" ".join(weight_words), max_grams=max_grams)
        except ParseError as error:
            raise LineError(error.reason, code) from None
        totals[code] = totals.get(code, 0) + grams
        if totals[code] > max_grams:
            raise LineError(TOO_HEAVY, code)
    return tuple(totals.items())


def parse_line(text: str, aliases: Mapping[str, str], max_grams: int) -> Line:
    """Who and what: the items may be missing (then they are asked one by one)."""
    words = text.split()
    who, taken = _who(words)
    return Line(who, parse_items(words[taken:], aliases, max_grams))
