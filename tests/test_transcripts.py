"""The first conversations, word for word, in the local chat (a subprocess) and on Telegram (the
real polling loop against the fake Bot API), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.settings import Settings
from tests.fakes.telegram_api import FakeBotAPI
from tests.transcripts import Say, Tap, Transcript, assert_turns, local_chat, telegram_turns

TOKEN = "123456:TEST-token-0123456789abcdefghijklmnop"

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


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, global_per_second=300, chat_burst=10, chat_per_second=100) as fake:
        yield fake


@pytest.fixture
def fake(fake_api: FakeBotAPI) -> FakeBotAPI:
    fake_api.reset()
    return fake_api


@pytest.fixture
def telegram_settings(settings: Settings, fake: FakeBotAPI) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": SecretStr(TOKEN), "telegram_api_base_url": fake.base_url})


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
