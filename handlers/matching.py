"""Understanding a typed answer to a list of choices: by number, by label, tolerant of typos."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

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
    close = difflib.get_close_matches(answer, list(labels), n=2, cutoff=cutoff)
    if len(close) == 1 or (close and difflib.SequenceMatcher(None, answer, close[0]).ratio() >= 0.9):
        return labels[close[0]]
    return None
