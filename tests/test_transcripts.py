"""The first conversations, word for word, in the local chat (a subprocess) and on Telegram (the
real polling loop against the fake Bot API), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import App
from tests.transcripts import (
    Say,
    Tap,
    Transcript,
    assert_turns,
    local_chat,
    telegram_turns,
)

SPINE: Transcript = [
    (Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
    (Tap("English"), [("en", "language.set"), ("en", "menu.ask")]),
    (Say("BANTUAN"), [("en", "help.general"), ("en", "menu.ask")]),
    (Tap("Change language / Bahasa"), [("en", "language.ask")]),
    (Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
    (Say("BAHASA"), [("id", "language.ask")]),
    (Say("BANTUAN"), [("id", "language.help"), ("id", "language.ask")]),
    (Say("BATAL"), [("id", "cancel.done"), ("id", "menu.ask")]),
    (Tap("Bantuan"), [("id", "help.general"), ("id", "menu.ask")]),
]


@pytest.mark.parametrize("channel", ["local", "telegram"])
async def test_welcome_language_help_and_cancel(
    channel: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    if channel == "local":
        turns = await asyncio.to_thread(local_chat, database_url, "siti", SPINE)
    else:
        app = App(request.getfixturevalue("telegram_settings"))
        turns = await telegram_turns(request.getfixturevalue("fake"), app, 501, SPINE)
        await app.db.dispose()
    assert_turns(turns, SPINE)
