"""Understanding a typed answer to a list of choices: by number, by label, tolerant of typos."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

_NOT_WORD = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-case, accents and punctuation removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", plain.casefold())).strip()


def match_choice(text: str, choices: Sequence[tuple[str, str]], cutoff: float = 0.75) -> str | None:
    """The key of the choice the text names (`2`, `english`, `Englsh`), or None when unclear."""
    answer = normalize(text)
    if not answer:
        return None
    if answer.isdigit():
        index = int(answer) - 1
        return choices[index][0] if 0 <= index < len(choices) else None
    labels = {normalize(label): key for key, label in choices}
    if answer in labels:
        return labels[answer]
    containing = [key for label, key in labels.items() if len(answer) >= 3 and answer in label.split(" ")]
    if len(containing) == 1:
        return containing[0]
    leading = [key for label, key in labels.items() if label.split(" ")[0] == answer]  # "ya" for "Ya, kirim ikrar"
    if len(leading) == 1:
        return leading[0]
    # A typo is forgiven in words, never in numbers: "RW 014" is not "RW 012" (no number typed: words decide).
    typed = _numbers(answer)
    same_numbers = [label for label in labels if not typed or _numbers(label) == typed]
    close = difflib.get_close_matches(answer, same_numbers, n=2, cutoff=cutoff)
    if len(close) == 1 or (close and difflib.SequenceMatcher(None, answer, close[0]).ratio() >= 0.9):
        return labels[close[0]]
    return None


def _numbers(text: str) -> list[int]:
    return [int(number) for number in re.findall(r"\d+", text)]


def search_names(text: str, items: Sequence[T], name: Callable[[T], str], limit: int = 8) -> list[T]:
    """Items whose name is the typed text, contains it, or (for typos) is close to it."""
    query = normalize(text)
    if len(query) < 3:
        return []
    names = [(normalize(name(item)), item) for item in items]
    exact = [item for item_name, item in names if item_name == query]
    if exact:
        return exact[:limit]
    containing = [item for item_name, item in names if query in item_name]
    if containing:
        return containing[:limit]
    scored = sorted(((difflib.SequenceMatcher(None, query, n).ratio(), i) for i, (n, _) in enumerate(names)), reverse=True)
    return [names[index][1] for score, index in scored if score >= 0.75][:limit]
