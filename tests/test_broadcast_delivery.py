"""A broadcast to 2,000 people through a fake Bot API that enforces Telegram's limits (here 300 per
second overall, per chat 3 at once then 1 per second, 100 ms per answer, 429 beyond), drained by
two `ksbb worker` processes while a third process answers people chatting with the bot: everyone
gets it exactly once, our pacing causes no 429, and the chatting people's replies are not held
behind the broadcast (a step taken while half of it or more was still to go is answered before its
last message; the broadcast's own progress is the clock, so a loaded machine slows both sides). Then
the same with one worker killed (SIGKILL) halfway and restarted: nothing is lost and at most one
batch (30) goes out twice. PostgreSQL only: the workers share its limiter. How fast the replies come
(their p99, before and after a kill) is measured by bench/broadcast.py, not asserted here."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.transport import TelegramTransport
from bot.settings import Settings
from storage.db import Database
from tests.conftest import TOKEN, count
from tests.fakes.broadcasting import BotProcesses, broadcast_now, residents, tally, telegram_chat, telegram_text
from tests.fakes.telegram_api import FakeBotAPI

RECIPIENTS = 2000
RATE = 300
CHAT_IDS_FROM = 5_000_000
CHATTERS = range(9_000_001, 9_000_007)
CHAT_EVERY = 2.2  # seconds between one chatting person's messages, within their chat's 1 per second
HANG_GUARD = 30  # seconds: only stops a hung step, never a measure of speed
BATCH = 30


@pytest.fixture
def postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("several sender processes share the limiter in PostgreSQL")
    return database_url


@pytest.fixture
def strict_fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, latency=0.1, global_per_second=RATE, chat_burst=3, chat_per_second=1.0) as fake:
        yield fake


def workers(database_url: str, fake: FakeBotAPI, logs: Path) -> BotProcesses:
    """`ksbb worker` processes against the fake, at the test's raised limits."""
    return BotProcesses({
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_GLOBAL_PER_SECOND": str(RATE),
        "TELEGRAM_CHAT_BURST": "3",
        "TELEGRAM_CHAT_PER_SECOND": "1",
        "SENDER_LEASE_SECONDS": "3",
        "SENDER_IDLE_SECONDS": "0.1",
    }, logs)


async def broadcast(db: Database, rw: int, body: str) -> int:
    """Sent now: the rows are written in the broadcast's own transaction."""
    broadcast_id, recipients = await broadcast_now(db, rw, body)
    assert recipients == RECIPIENTS
    return broadcast_id


def received(fake: FakeBotAPI, body: str) -> Counter[int]:
    """How many times each chat got the broadcast."""
    return tally(((call.chat_id, call.text) for call in fake.delivered), telegram_text(body))


def sent_of(fake: FakeBotAPI, body: str) -> int:
    """How many copies of the broadcast the fake has delivered so far."""
    escaped = telegram_text(body)
    return sum(call.text == escaped for call in fake.delivered)


async def chatting(fake: FakeBotAPI, user_id: int, body: str, until: asyncio.Event) -> list[tuple[float, int, float]]:
    """One person chatting until told to stop; for each step, when the message went, how many copies of the
    broadcast had been delivered then, and the fake's stamp of the step's last reply (to place it among the
    broadcast's sends)."""
    turns = []
    for turn in itertools.count():
        if until.is_set():
            break
        message, replies = ("/start", 2) if turn % 2 == 0 else ("MENU", 1)
        before = len(fake.sent_to(user_id))
        started, sent_before = time.monotonic(), sent_of(fake, body)
        fake.push_update(fake.message_update(user_id, message))
        wanted = before + replies
        await fake.wait_for_async(
            lambda wanted=wanted: len(fake.sent_to(user_id)) >= wanted, timeout=HANG_GUARD, interval=0.1
        )
        turns.append((started, sent_before, max(call.monotonic for call in fake.sent_to(user_id)[before:])))
        await asyncio.sleep(max(0.0, CHAT_EVERY - (time.monotonic() - started)))
    return turns


async def deliver(
    db: Database, fake: FakeBotAPI, body: str, rw: int, during: Callable[[int], None] | None = None
) -> tuple[list[tuple[int, int]], float]:
    """Broadcast `body` while people chat; for each step taken during it, how many of the broadcast's sends
    were still to go when the person wrote and how many of them went before the step's last reply; and the
    broadcast's sending rate (reported, not asserted)."""
    done = asyncio.Event()
    chats = [asyncio.create_task(chatting(fake, user, body, done)) for user in CHATTERS]
    try:
        await asyncio.sleep(0.5)
        began = time.monotonic()
        broadcast_id = await broadcast(db, rw, body)
        while (got := len(received(fake, body))) < RECIPIENTS or await pending(db, broadcast_id):
            assert time.monotonic() < began + 180, f"{got} of {RECIPIENTS} delivered before the hang guard"
            if during is not None:
                during(got)
            await asyncio.sleep(0.2)
        ended = time.monotonic()
        assert not await count(db, "SELECT count(*) FROM outbox WHERE broadcast_id = :b AND status <> 'sent'",
                               b=broadcast_id)
    finally:
        done.set()
    turns = [turn for chat in await asyncio.gather(*chats) for turn in chat]
    escaped = telegram_text(body)
    times = sorted(call.monotonic for call in fake.delivered if call.text == escaped)
    steps = [
        (len(times) - sent_before, bisect.bisect_right(times, answered) - sent_before)
        for started, sent_before, answered in turns if began <= started <= ended
    ]
    assert len(steps) >= 10
    return steps, (len(times) - 1) / (times[-1] - times[0])


async def pending(db: Database, broadcast_id: int) -> int:
    return await count(db, "SELECT count(*) FROM outbox WHERE broadcast_id = :b AND status = 'pending'", b=broadcast_id)


def held_behind(steps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The steps taken while half the broadcast or more was still to go whose replies waited for all of it."""
    return [(to_go, overtaken) for to_go, overtaken in steps if to_go >= RECIPIENTS // 2 and overtaken >= to_go]


async def test_two_thousand_recipients_get_it_once_with_replies_ahead_even_after_a_kill(
    postgres: str, strict_fake: FakeBotAPI, tmp_path: Path
) -> None:
    fake = strict_fake
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=postgres, telegram_bot_token=SecretStr(TOKEN), telegram_api_base_url=fake.base_url,
        telegram_global_per_second=RATE, telegram_chat_burst=3, telegram_chat_per_second=1.0,
        sender_lease_seconds=3.0,
    )
    app = App(settings)
    rw = await residents(app.db, RECIPIENTS, "telegram", telegram_chat(CHAT_IDS_FROM))
    processes = workers(postgres, fake, tmp_path)
    bot = app.telegram()
    await bot.initialize()
    stop = asyncio.Event()
    poller = Poller(bot, app.engine, app.sender([TelegramTransport(bot)]), timeout=1, retry_seconds=0.1)
    answering = asyncio.create_task(poller.run(stop))  # the third process: replies only, no draining
    try:
        first, second = processes.start("worker"), processes.start("worker")
        await fake.wait_for_async(lambda: fake.calls["getMe"] >= 3, timeout=30)

        steps, rate = await deliver(app.db, fake, "Siaran pertama: kerja bakti Minggu pagi", rw)
        once = received(fake, "Siaran pertama: kerja bakti Minggu pagi")
        assert len(once) == RECIPIENTS and set(once.values()) == {1}
        assert fake.count_429 == 0
        assert any(to_go >= RECIPIENTS // 2 for to_go, _ in steps), steps  # some steps did meet the broadcast
        assert not held_behind(steps), steps

        killed: list[int] = []

        def kill_halfway(delivered: int) -> None:
            if not killed and delivered >= RECIPIENTS // 2:
                processes.kill(first)
                killed.append(delivered)
                processes.start("worker")

        body = "Siaran kedua: jadwal penimbangan Sabtu"
        steps_after, rate_after = await deliver(app.db, fake, body, rw, during=kill_halfway)
        twice = received(fake, body)
        duplicates = sum(n - 1 for n in twice.values())
        assert killed and len(twice) == RECIPIENTS
        assert duplicates <= BATCH
        assert fake.count_429 == 0
        assert not held_behind(steps_after), steps_after
        print(
            f"\nbroadcast of {RECIPIENTS}: {rate:.0f}/s = {rate / RATE:.0%} of the {RATE}/s limit;"
            f" broadcast sends overtaken by a chatting step, most: {max(n for _, n in steps)} (n={len(steps)});"
            f" after a SIGKILL at {killed[0]}: {rate_after:.0f}/s, {duplicates} duplicates,"
            f" most overtaken: {max(n for _, n in steps_after)}; 429s: {fake.count_429}"
        )
        assert second.poll() is None
    finally:
        stop.set()
        await answering
        await bot.shutdown()
        processes.stop()
        await app.db.dispose()
    assert processes.stopped_cleanly(), [p.returncode for p in processes.processes]
