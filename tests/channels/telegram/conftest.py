"""The fake Bot API, settings pointing at it, and a Telegram user talking through the real polling loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.settings import Settings
from tests.fakes.telegram_api import Call, FakeBotAPI
from tests.transcripts import TelegramChat

TOKEN = "123456:TEST-token-0123456789abcdefghijklmnop"
# Limits raised tenfold like the `settings` fixture; a short long-poll cap so a chat stops quickly.
LIMITS = {"global_per_second": 300, "chat_burst": 10, "chat_per_second": 100.0}
MAX_POLL_TIMEOUT = 0.2


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, max_poll_timeout=MAX_POLL_TIMEOUT, **LIMITS) as fake:  # type: ignore[arg-type]
        yield fake


@pytest.fixture
def fake(fake_api: FakeBotAPI) -> Iterator[FakeBotAPI]:
    """The shared fake, fresh, with the test limits restored whatever the previous test changed."""
    fake_api.latency = 0.0
    for name, value in LIMITS.items():
        setattr(fake_api, name, value)
    fake_api.reset()
    yield fake_api


@pytest.fixture
def telegram_settings(settings: Settings, fake: FakeBotAPI) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": SecretStr(TOKEN), "telegram_api_base_url": fake.base_url})


@pytest.fixture
async def app(telegram_settings: Settings) -> AsyncIterator[App]:
    application = App(telegram_settings)
    yield application
    await application.db.dispose()


class Chat(TelegramChat):
    """A Telegram user who can send any update (stickers, contacts, group messages), not only text and taps."""

    async def send(self, update: dict[str, Any], chat_id: int | None = None) -> list[Call]:
        """Push the update, wait until it is confirmed and its replies are settled; the sends to the chat
        (failed ones included) it caused."""
        chat = self.user_id if chat_id is None else chat_id
        before = len(self.fake.sent_to(chat, include_failed=True))
        update_id = self.fake.push_update(update)
        await self.fake.wait_for_async(lambda: self.fake.confirmed_update_id >= update_id, timeout=30)
        await self.settled()
        return self.fake.sent_to(chat, include_failed=True)[before:]

    async def say(self, text: str) -> list[str]:
        return texts(await self.send(self.fake.message_update(self.user_id, text)))


def texts(calls: list[Call]) -> list[str]:
    return [call.text or "" for call in calls]
