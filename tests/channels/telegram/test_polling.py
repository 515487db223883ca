"""The engine, the sender and our own polling loop against the fake Bot API, on every backend."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from handlers.dialog.machine import MENU, Context
from handlers.text.i18n import translate
from storage.models import Conversation, Identity, Outbox
from tests.channels.telegram.conftest import Chat, texts
from tests.conftest import count
from tests.fakes.telegram_api import Call, FakeBotAPI
from tests.transcripts import Tap

USER = 812345678
GROUP = -1001987654321


def t(locale: str, *keys: str) -> list[str]:
    return [translate(locale, key) for key in keys]


async def conversation_state(app: App) -> str:
    async with app.db.transaction() as session:
        return (await session.execute(select(Conversation.state))).scalar_one()


async def test_a_button_press_is_answered(fake: FakeBotAPI, app: App) -> None:
    """Telegram shows a spinner on the button until the bot answers the callback query."""
    async with Chat(fake, app, USER) as chat:
        await chat.say("/start")
        assert await chat.do(Tap("English")) == t("en", "language.set", "menu.ask")
    [answer] = [call for call in fake.requests if call.method == "answerCallbackQuery"]
    [press] = [u for u in fake._history.values() if "callback_query" in u]  # noqa: SLF001
    assert answer.params["callback_query_id"] == press["callback_query"]["id"]


async def test_a_group_message_asks_to_chat_privately_and_stores_no_one(fake: FakeBotAPI, app: App) -> None:
    update = fake.message_update(
        USER, "@ksbb_test_bot kapan jadwal penimbangan?", chat_id=GROUP, chat_type="supergroup"
    )
    async with Chat(fake, app, USER) as chat:
        group_calls = await chat.send(update, chat_id=GROUP)
    assert texts(group_calls) == t("id", "group.private_only")
    assert fake.sent_to(USER, include_failed=True) == []
    assert await count(app.db, "SELECT count(*) FROM person") == 0
    assert await count(app.db, "SELECT count(*) FROM channel_identity") == 0


MEDIA: dict[str, Callable[[FakeBotAPI], dict[str, Any]]] = {
    "sticker": lambda fake: fake.sticker_update(USER),
    "voice": lambda fake: fake.voice_update(USER),
    "photo": lambda fake: fake.photo_update(USER, caption="ini foto sampah saya"),
}


@pytest.mark.parametrize("media", MEDIA)
async def test_media_in_the_language_step_is_explained_and_the_step_stays(
    media: str, fake: FakeBotAPI, app: App
) -> None:
    async with Chat(fake, app, USER) as chat:
        assert await chat.say("/start") == t("id", "start.welcome", "language.ask")
        # told what went wrong, then asked the same question again
        assert texts(await chat.send(MEDIA[media](fake))) == t("id", "input.unsupported", "language.ask")
        assert await conversation_state(app) == "language.choose"
        assert await chat.do(Tap("English")) == t("en", "language.set", "menu.ask")  # the buttons still work


async def test_start_deep_link_payload_reaches_its_flow(fake: FakeBotAPI, app: App) -> None:
    seen: list[str] = []

    async def invitation(ctx: Context, value: str) -> str:
        seen.append(value)
        ctx.say("start.welcome_back")
        return MENU

    app.engine.dialog.start_handlers = {"inv": invitation}
    async with Chat(fake, app, USER) as chat:
        assert await chat.say("/start inv_abc") == t("id", "start.welcome_back", "menu.ask")
    assert seen == ["abc"]


async def test_a_person_who_blocked_the_bot_is_marked_unreachable_until_they_write_again(
    fake: FakeBotAPI, app: App
) -> None:
    fake.block(USER)
    async with Chat(fake, app, USER) as chat:
        refused = await chat.send(fake.message_update(USER, "/start"))
        assert refused and all(call.status == 403 for call in refused)
        async with app.db.transaction() as session:
            statuses = (await session.execute(select(Outbox.status))).scalars().all()
            unreachable_at = (await session.execute(select(Identity.unreachable_at))).scalar_one()
        assert statuses == ["unreachable", "unreachable"]
        assert unreachable_at is not None

        fake.unblock(USER)
        assert await chat.say("/start") == t("id", "start.welcome", "language.ask")
        async with app.db.transaction() as session:
            assert (await session.execute(select(Identity.unreachable_at))).scalar_one() is None


def step_replies(fake: FakeBotAPI, before: int) -> list[Call] | None:
    """Both replies of a /start step, once they have arrived."""
    calls = fake.sent_to(USER)[before:]
    return calls if len(calls) >= 2 else None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reply_latency_of_a_start_step(fake: FakeBotAPI, app: App) -> None:
    """From the update reaching Telegram to the step's last reply reaching Telegram (printed, not asserted)."""
    latencies: list[float] = []
    async with Chat(fake, app, USER) as chat:
        await chat.say("/start")  # warm-up: connections, first person row
        for _ in range(20):
            before = len(fake.sent_to(USER))
            pushed = time.monotonic()
            fake.push_update(fake.message_update(USER, "/start"))
            replies = await fake.wait_for_async(lambda before=before: step_replies(fake, before))
            assert texts(replies) == t("id", "start.welcome", "language.ask")
            latencies.append(replies[-1].monotonic - pushed)
            await chat.settled()
    ms = sorted(seconds * 1000 for seconds in latencies)
    print(
        f"\n/start reply latency on SQLite over {len(ms)} steps:"
        f" median {statistics.median(ms):.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
    )
