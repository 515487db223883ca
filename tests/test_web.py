"""The web process through its real entry point (the ASGI app, requests signed with the secret
token): a Telegram conversation, refused requests, duplicates, and the database being down."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from bot.app import App
from bot.scheduler import Scheduler
from bot.settings import Settings
from handlers.text.i18n import translate
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI

SECRET = "rahasia-webhook-0123456789"
_update_ids = itertools.count(1)


def numbered(update: dict[str, object]) -> dict[str, object]:
    """An update as Telegram posts it to a webhook, with its update_id."""
    return {**update, "update_id": next(_update_ids)}
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@pytest.fixture
async def web(telegram_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, App]]:
    app = App(telegram_settings.model_copy(update={"webhook_secret": SecretStr(SECRET)}))
    bot = app.telegram()
    async with bot:
        asgi = app.web(bot)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://ksbb.test") as client:
            yield client, app
    await app.db.dispose()


async def test_a_signed_update_is_handled_and_answered_through_the_outbox(web, fake: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    response = await client.post("/telegram", json=numbered(fake.message_update(700, "/start")), headers=HEADERS)
    assert response.status_code == 200
    await fake.wait_for_async(lambda: len(fake.sent_to(700)) == 2)
    assert [c.text for c in fake.sent_to(700)] == [translate("id", "start.welcome"), translate("id", "language.ask")]
    button = fake.sent_to(700)[-1].reply_markup["inline_keyboard"][1][0]["callback_data"]
    tap = numbered(fake.callback_update(700, button))
    response = await client.post("/telegram", json=tap, headers=HEADERS)
    assert response.status_code == 200
    # The tap is answered in the webhook's response (Telegram runs the method), not by a request of ours.
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": tap["callback_query"]["id"]}
    await fake.wait_for_async(lambda: len(fake.sent_to(700)) == 4)
    assert fake.sent_to(700)[2].text == translate("en", "language.set")
    assert fake.calls["answerCallbackQuery"] == 0


@pytest.mark.parametrize(("headers", "status"), [({}, 403), ({"X-Telegram-Bot-Api-Secret-Token": "salah"}, 403)])
async def test_a_missing_or_wrong_secret_is_refused(web, fake: FakeBotAPI, headers: dict[str, str], status: int) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    response = await client.post("/telegram", json=numbered(fake.message_update(701, "/start")), headers=headers)
    assert response.status_code == status
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == 0


async def test_an_oversized_body_is_refused_before_parsing(web) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    response = await client.post("/telegram", content=b"{" + b" " * 1_000_001 + b"}", headers=HEADERS)
    assert response.status_code == 413
    assert (await client.post("/telegram", content=b"not json", headers=HEADERS)).status_code == 400


async def test_a_replayed_update_id_is_processed_once(web, fake: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    update = numbered(fake.message_update(702, "/start"))
    for _ in range(3):
        assert (await client.post("/telegram", json=update, headers=HEADERS)).status_code == 200
    await fake.wait_for_async(lambda: len(fake.sent_to(702)) == 2)
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == 1
    assert await count(app.db, "SELECT count(*) FROM outbox") == 2


async def test_an_unreachable_database_answers_503_so_telegram_delivers_again(telegram_settings: Settings, fake: FakeBotAPI) -> None:
    down = telegram_settings.model_copy(update={
        "webhook_secret": SecretStr(SECRET), "database_url": "postgresql://postgres@127.0.0.1:9/nowhere",
    })
    app = App(down)
    bot = app.telegram()
    async with bot:
        asgi = app.web(bot)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://ksbb.test") as client:
            response = await client.post("/telegram", json=numbered(fake.message_update(703, "/start")), headers=HEADERS)
            health = await client.get("/healthz")
    await app.db.dispose()
    assert response.status_code == 503 and health.status_code == 503
    assert health.json() == {"database": "unreachable"}


async def test_health_needs_a_fresh_scheduler_heartbeat_and_shows_no_personal_data(web) -> None:  # type: ignore[no-untyped-def]
    client, app = web
    stale = await client.get("/healthz")
    assert stale.status_code == 503 and stale.json() == {"database": "ok", "scheduler": "stale"}
    await Scheduler(app.db, []).tick()
    fresh = await client.get("/healthz")
    assert fresh.status_code == 200 and fresh.json() == {"database": "ok", "scheduler": "ok"}
