"""Conversations as transcripts: what the person does, and the replies the bot must give, run through
each channel's real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.i18n import translate

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Say:
    """The person types this text."""

    text: str


@dataclass(frozen=True)
class Tap:
    """The person picks the offered choice with this label (a button, or typing it)."""

    label: str


Action = Say | Tap
Expected = Sequence[tuple[str, str]]  # (locale, message key) of each reply, in order
Transcript = Sequence[tuple[Action, Expected]]


def texts(expected: Expected) -> list[str]:
    return [translate(locale, key) for locale, key in expected]


def local_chat(database_url: str, user: str, transcript: Transcript, timeout: float = 60) -> list[list[str]]:
    """Run `ksbb chat --user USER` as a subprocess with the transcript on a pipe; the reply blocks
    printed after each message."""
    lines = [action.text if isinstance(action, Say) else action.label for action, _ in transcript]
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", user],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return split_turns(result.stdout, lines)


def split_turns(output: str, lines: list[str]) -> list[list[str]]:
    """The blocks (one per reply, separated by blank lines) printed after each `> message` echo."""
    turns: list[list[str]] = []
    for chunk in ("\n" + output).split("\n> ")[1:]:
        _echo, _, body = chunk.partition("\n")
        turns.append([block.strip("\n") for block in body.split("\n\n") if block.strip()])
    assert len(turns) == len(lines), output
    return turns


def assert_turns(turns: list[list[str]], transcript: Transcript) -> None:
    """Each turn has exactly the expected replies, each block starting with the expected text."""
    for (action, expected), blocks in zip(transcript, turns, strict=True):
        wanted = texts(expected)
        assert len(blocks) == len(wanted), (action, blocks, wanted)
        for block, text in zip(blocks, wanted, strict=True):
            assert block.startswith(text), (action, block, text)

