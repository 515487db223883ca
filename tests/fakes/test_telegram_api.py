"""Tests of the fake Telegram Bot API, driven by python-telegram-bot's real Bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import FakeBotAPI, TelegramLimits

# PTB warns on every RetryAfter it builds (retry_after becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
HANG_GUARD = 30  # seconds: only stops a hung test, never a measure of speed
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="yes"),
                                  InlineKeyboardButton("Tidak", callback_data="no")]])
KEYBOARD_JSON = {"inline_keyboard": [[{"text": "Ya", "callback_data": "yes"},
                                      {"text": "Tidak", "callback_data": "no"}]]}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    """One running fake for the module (stopping uvicorn takes ~0.2 s)."""
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def fake(server: FakeBotAPI) -> FakeBotAPI:
    """The shared fake, reset to a fresh state with Telegram's default settings."""
    server.latency, server.max_poll_timeout = 0.0, 1.0
    server.global_per_second, server.chat_burst, server.chat_per_second = 30, 3, 1.0
    server.reset()
    return server


def make_bot(fake: FakeBotAPI, token: str = TOKEN, pool: int = 1) -> Bot:
    """A real PTB Bot talking to the fake."""
    return Bot(token, base_url=fake.base_url, base_file_url=fake.base_file_url,
               request=HTTPXRequest(connection_pool_size=pool),
               get_updates_request=HTTPXRequest(connection_pool_size=1))


def seconds(error: RetryAfter) -> float:
    """retry_after in seconds, whether PTB gives an int or a timedelta."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.mark.asyncio
async def test_get_me(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        me = await bot.get_me()
    assert me.is_bot and me.username == "ksbb_test_bot"
    assert fake.calls["getMe"] == 2  # initialize() calls it too
    assert fake.tokens_seen == {TOKEN}


@pytest.mark.asyncio
async def test_send_message_round_trips_inline_keyboard(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        first = await bot.send_message(42, "Pilih:", reply_markup=KEYBOARD)
        second = await bot.send_message(42, "123")
    assert first.reply_markup == KEYBOARD and first.from_user.username == "ksbb_test_bot"
    assert first.chat.id == 42 and first.chat.type == "private"
    assert (first.message_id, second.message_id) == (1, 2)
    call = fake.sent_to(42)[0]
    assert (call.method, call.chat_id, call.text, call.status) == ("sendMessage", 42, "Pilih:", 200)
    assert call.reply_markup == KEYBOARD_JSON
    assert fake.sent_to(42)[1].text == "123"  # a numeric-looking text stays a string


@pytest.mark.asyncio
async def test_get_updates_returns_ptb_updates(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        sent = await bot.send_message(7, "Pilih:", reply_markup=KEYBOARD)
        fake.push_update(fake.message_update(7, "/start ref"))
        fake.push_update(fake.callback_update(7, "yes"))
        fake.push_update(fake.photo_update(7, b"jpeg-bytes", caption="foto"))
        fake.push_update(fake.sticker_update(7))
        fake.push_update(fake.voice_update(7, duration=3))
        fake.push_update(fake.contact_update(7, "+6281234567890"))
        fake.push_update(fake.location_update(7, -6.2, 106.8))
        command, press, photo, sticker, voice, contact, location = await bot.get_updates()
        assert command.message.text == "/start ref" and command.effective_user.id == 7
        assert command.message.entities[0].type == "bot_command"
        assert press.callback_query.data == "yes"
        assert press.callback_query.message.message_id == sent.message_id
        assert press.callback_query.message.reply_markup == KEYBOARD
        assert photo.message.caption == "foto"
        photo_file = await bot.get_file(photo.message.photo[-1].file_id)
        assert await photo_file.download_as_bytearray() == b"jpeg-bytes"
        assert sticker.message.sticker.emoji == "👍"
        assert voice.message.voice.to_dict()["duration"] == 3
        assert contact.message.contact.user_id == 7
        assert location.message.location.latitude == pytest.approx(-6.2)
        assert [u.update_id for u in (command, location)] == [1, 7]


@pytest.mark.asyncio
async def test_long_poll_waits_and_returns_on_push(fake: FakeBotAPI) -> None:
    fake.max_poll_timeout = 0.3
    async with make_bot(fake) as bot:
        start = time.monotonic()
        # Asked to wait 60 s, capped at max_poll_timeout: without the cap the hang guard fails the test.
        assert await asyncio.wait_for(bot.get_updates(timeout=60), HANG_GUARD) == ()
        assert time.monotonic() - start >= 0.25  # it did wait
        fake.max_poll_timeout = 60.0
        threading.Timer(0.2, fake.push_update, [fake.message_update(1, "halo")]).start()
        start = time.monotonic()
        # Polling for up to 60 s, it returns on the push: without the wake-up the hang guard fails the test.
        updates = await asyncio.wait_for(bot.get_updates(timeout=60), HANG_GUARD)
        assert time.monotonic() - start >= 0.15  # it waited for the push
    assert [u.message.text for u in updates] == ["halo"]


@pytest.mark.asyncio
async def test_offset_confirms_and_redeliver(fake: FakeBotAPI) -> None:
    ids = [fake.push_update(fake.message_update(1, f"m{i}")) for i in range(3)]
    assert ids == [1, 2, 3]
    async with make_bot(fake) as bot:
        assert [u.update_id for u in await bot.get_updates()] == ids
        assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
        assert [u.update_id for u in await bot.get_updates(offset=3)] == [3]
        assert fake.confirmed_update_id == 2
        assert await bot.get_updates(offset=4) == ()
        assert fake.pending_update_ids == [] and fake.confirmed_update_id == 3
        fake.redeliver(2)
        assert [u.update_id for u in await bot.get_updates(offset=4)] == [2]
        assert await bot.get_updates(offset=4) == ()
        assert fake.push_update(fake.message_update(1, "next")) == 4
    assert fake.received_offsets == [None, None, 3, 4, 4, 4]


@pytest.mark.asyncio
async def test_chat_burst_then_429_then_retry_succeeds(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        for i in range(3):
            await bot.send_message(5, f"burst {i}")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(5, "too fast")
        await bot.send_message(6, "another chat is not limited")
        wait = seconds(info.value)
        assert wait >= 1
        await asyncio.sleep(wait)
        await bot.send_message(5, "after waiting")  # so the refused send took no token
    refused = fake.sent_to(5, include_failed=True)[3]
    n = int(wait)
    assert refused.status == 429 and refused.error == {
        "ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {n}",
        "parameters": {"retry_after": n}}
    assert fake.count_429 == 1 and len(fake.sent_to(5)) == 4


@pytest.mark.asyncio
async def test_global_limit_over_many_chats(fake: FakeBotAPI) -> None:
    fake.global_per_second = 5
    async with make_bot(fake) as bot:
        for chat in range(1, 6):
            await bot.send_message(chat, "hi")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(6, "hi")
        assert seconds(info.value) >= 1
        await asyncio.sleep(seconds(info.value))
        await bot.send_message(6, "hi")
    assert fake.count_429 == 1 and fake.max_in_any_window() == 5


@pytest.mark.asyncio
async def test_global_limit_holds_under_concurrent_hammering(fake: FakeBotAPI) -> None:
    fake.global_per_second, fake.chat_burst = 5, None
    async with make_bot(fake, pool=10) as bot:
        async def hammer(chat: int) -> None:
            end = time.monotonic() + 1.6
            while time.monotonic() < end:
                try:
                    await bot.send_message(chat, "x")
                except RetryAfter:
                    await asyncio.sleep(0.02)

        await asyncio.gather(*(hammer(chat) for chat in range(10)))
    assert fake.max_in_any_window() == 5
    assert len(fake.delivered) >= 10 and fake.count_429 > 0


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0, 0.4), st.integers(0, 3)), max_size=60),
       global_n=st.integers(1, 6), burst=st.integers(1, 4), rate=st.sampled_from([0.5, 1.0, 3.0]))
def test_limits_admit_exactly_what_the_rules_allow(
        steps: list[tuple[float, int]], global_n: int, burst: int, rate: float) -> None:
    limits = TelegramLimits(global_n, burst, rate)
    now, admitted = 0.0, []
    for gap, chat in steps:
        now += gap
        wait = limits.wait(chat, now)
        if wait == 0:
            limits.consume(chat, now)
            admitted.append((now, chat))
        else:  # the wait is exact: not allowed a moment before, allowed right after
            assert limits.wait(chat, now + wait + 1e-6) == 0
            assert wait < 1e-6 or limits.wait(chat, now + wait - 1e-6) > 0
    times = [t for t, _ in admitted]
    for t in times:
        assert sum(t <= u < t + 1.0 for u in times) <= global_n
    for chat in range(4):
        mine = [t for t, c in admitted if c == chat]
        for i, start in enumerate(mine):
            for j in range(i, len(mine)):
                assert j - i + 1 <= burst + rate * (mine[j] - start) + 1e-9


@pytest.mark.asyncio
async def test_blocked_chat_is_forbidden(fake: FakeBotAPI) -> None:
    fake.block(99)
    async with make_bot(fake) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(99, "halo")
        await bot.send_message(98, "halo")
    assert fake.count_403 == 1 and fake.sent_to(99) == []
    assert fake.sent_to(99, include_failed=True)[0].error["error_code"] == 403


@pytest.mark.asyncio
async def test_reset_forgets_state_but_keeps_settings(fake: FakeBotAPI) -> None:
    fake.global_per_second = 2
    fake.block(1)
    fake.push_update(fake.message_update(1, "old"))
    async with make_bot(fake) as bot:
        await bot.send_message(2, "a")
        await bot.send_message(3, "b")
        fake.reset()
        assert fake.requests == [] and fake.pending_update_ids == []
        await bot.send_message(1, "after reset")  # unblocked, window emptied
    assert fake.global_per_second == 2 and fake.count_429 == fake.count_403 == 0
    assert fake.push_update({"message": {}}) == 1


@pytest.mark.asyncio
async def test_latency_delays_answers_but_requests_overlap() -> None:
    with FakeBotAPI(latency=0.2) as fake:
        async with make_bot(fake, pool=10) as bot:
            start = time.monotonic()
            await bot.get_me()
            await bot.get_me()
            assert time.monotonic() - start >= 0.4
            assert fake.max_in_flight == 1  # one after the other: never two at the fake at once
            await asyncio.gather(*(bot.get_me() for _ in range(10)))
    # Side by side: answers delayed by the latency while others arrive (serial would stay at 1).
    assert fake.max_in_flight >= 2


@pytest.mark.asyncio
async def test_a_held_send_is_answered_once_a_later_one_arrives(fake: FakeBotAPI) -> None:
    fake.hold_each_send_until_the_next(expected=3)
    async with make_bot(fake, pool=4) as bot:
        first = asyncio.create_task(bot.send_message(1, "a"))
        await fake.wait_for_async(lambda: fake.sends_arrived == 1)
        await asyncio.sleep(0.2)
        assert not first.done()  # held: no later send yet
        second = asyncio.create_task(bot.send_message(2, "b"))
        await asyncio.wait_for(first, HANG_GUARD)  # answered once the second arrived
        assert not second.done()
        await asyncio.wait_for(bot.send_message(3, "c"), HANG_GUARD)  # the expected-th goes at once
        await asyncio.wait_for(second, HANG_GUARD)
        assert fake.max_in_flight == 2
        fake.hold_each_send_until_the_next(None)
        await bot.send_message(4, "d")  # off again
    assert [call.text for call in fake.sent] == ["a", "c", "b", "d"]  # recorded as answered


@pytest.mark.asyncio
async def test_send_document_and_photo_store_bytes_and_filename(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        doc = await bot.send_document(3, b"nama,jumlah\nA,1\n", filename="laporan.csv",
                                      caption="Laporan")
        photo = await bot.send_photo(3, b"\x89PNG-bytes", filename="poster.png")
        downloaded = await (await bot.get_file(doc.document.file_id)).download_as_bytearray()
    assert doc.document.file_name == "laporan.csv" and doc.caption == "Laporan"
    assert photo.photo and downloaded == b"nama,jumlah\nA,1\n"
    doc_call, photo_call = fake.sent_to(3)
    assert (doc_call.document, doc_call.filename) == (b"nama,jumlah\nA,1\n", "laporan.csv")
    assert (photo_call.photo, photo_call.filename) == (b"\x89PNG-bytes", "poster.png")


@pytest.mark.asyncio
async def test_wrong_token_is_unauthorized() -> None:
    with FakeBotAPI(token=TOKEN) as fake:
        with pytest.raises(InvalidToken):
            async with make_bot(fake, token="999:WRONG"):
                pass
        async with make_bot(fake) as bot:
            assert (await bot.get_me()).username == "ksbb_test_bot"
    assert fake.requests[0].status == 401 and fake.tokens_seen == {TOKEN, "999:WRONG"}


@pytest.mark.asyncio
async def test_fail_next_gives_transient_errors(fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", 2)
    async with make_bot(fake) as bot:
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(1, "x")
        await bot.send_message(1, "x")
    assert [c.status for c in fake.sent] == [500, 500, 200]


@pytest.mark.asyncio
async def test_edits_callbacks_commands_and_webhook(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        msg = await bot.send_message(8, "Pilih:", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("Terima kasih", chat_id=8, message_id=msg.message_id)
        assert edited.text == "Terima kasih" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="message is not modified"):
            await bot.edit_message_text("Terima kasih", chat_id=8, message_id=msg.message_id)
        again = await bot.edit_message_reply_markup(8, msg.message_id, reply_markup=KEYBOARD)
        assert again.reply_markup == KEYBOARD and again.edit_date is not None
        press = fake.callback_update(8, "yes")["callback_query"]
        assert await bot.answer_callback_query(press["id"], text="OK")
        await bot.set_my_commands([BotCommand("start", "Mulai")])
        assert await bot.get_my_commands() == (BotCommand("start", "Mulai"),)
        await bot.set_webhook("https://example.invalid/hook")
        with pytest.raises(Conflict):
            await bot.get_updates()
        assert await bot.delete_webhook()
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(8, "x", reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("long", callback_data="x" * 65)]]))
    assert [c.method for c in fake.sent if c.ok][1:] == ["editMessageText",
                                                        "editMessageReplyMarkup"]
    assert fake.calls["answerCallbackQuery"] == 1


def test_raw_form_json_and_get_requests(fake: FakeBotAPI) -> None:
    url = f"{fake.base_url}{TOKEN}"
    with httpx.Client() as client:
        form = {"chat_id": "5", "text": "007", "reply_markup": json.dumps(KEYBOARD_JSON),
                "disable_notification": "true"}
        assert client.post(f"{url}/sendMessage", data=form).json()["ok"]
        assert client.post(f"{url}/sendmessage", json={"chat_id": 6, "text": "json"}).json()["ok"]
        assert client.get(f"{url}/getMe").json()["result"]["username"] == "ksbb_test_bot"
        missing = client.post(f"{url}/noSuchMethod")
        assert missing.status_code == 404 and missing.json()["error_code"] == 404
    form_call, json_call = fake.sent
    assert form_call.params == {"chat_id": 5, "text": "007", "reply_markup": KEYBOARD_JSON,
                                "disable_notification": True}
    assert (json_call.method, json_call.chat_id, json_call.text) == ("sendMessage", 6, "json")


def test_wait_for_sync_and_timeout(fake: FakeBotAPI) -> None:
    threading.Timer(0.1, fake.push_update, [{"message": {}}]).start()
    assert fake.wait_for(lambda: fake.pending_update_ids, timeout=HANG_GUARD) == [1]
    with pytest.raises(TimeoutError):
        fake.wait_for(lambda: fake.sent, timeout=0.05)


@pytest.mark.asyncio
async def test_wait_for_async_lets_the_loop_run(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        task = asyncio.create_task(bot.send_message(4, "later"))
        calls = await fake.wait_for_async(lambda: fake.sent_to(4), timeout=HANG_GUARD)
        await task
    assert calls[0].text == "later"
