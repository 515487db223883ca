"""Nothing is lost and nothing is handled twice: a poller killed before committing, a redelivered
update, a sender killed in the middle of a batch."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.app import App
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.transport import TelegramTransport
from bot.engine import Engine, Outcome
from bot.settings import Settings
from handlers.messages import Inbound
from storage import outbox
from storage.outbox import Priority
from storage.types import utcnow
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI

USERS = [801, 802, 803, 804, 805]


@pytest.fixture
def app(telegram_settings: Settings) -> App:
    return App(telegram_settings)


class Stalling(Engine):
    """An engine whose process 'dies' (hangs until killed) while handling the update it is told to."""

    def __init__(self, engine: Engine, stall_on: str) -> None:
        self.__dict__.update(engine.__dict__)
        self.stall_on = stall_on
        self.stalled = asyncio.Event()

    async def _handle(self, message: Inbound) -> Outcome:
        if message.platform_id == self.stall_on:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super()._handle(message)


async def run_poller(app: App, engine: Engine, stop: asyncio.Event) -> None:
    bot = app.telegram()
    async with bot:
        sender = app.sender([TelegramTransport(bot)])
        await asyncio.gather(
            Poller(bot, engine, sender, timeout=1, retry_seconds=0.05).run(stop), sender.run(stop)
        )


async def settled(app: App) -> None:
    for _ in range(500):
        if not await count(app.db, "SELECT count(*) FROM outbox WHERE status = 'pending'"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox not drained")


async def test_a_poller_killed_before_committing_handles_each_update_exactly_once_after_restart(
    app: App, fake: FakeBotAPI
) -> None:
    ids = [fake.push_update(fake.message_update(user, "/start")) for user in USERS]
    stalling = Stalling(app.engine, stall_on=str(ids[2]))
    stop = asyncio.Event()
    first = asyncio.create_task(run_poller(app, stalling, stop))
    await asyncio.wait_for(stalling.stalled.wait(), 30)
    first.cancel()  # the process dies mid-transaction: nothing of update 3 was committed
    await asyncio.gather(first, return_exceptions=True)
    assert fake.confirmed_update_id < ids[2]

    stop = asyncio.Event()
    second = asyncio.create_task(run_poller(app, app.engine, stop))
    await fake.wait_for_async(lambda: fake.confirmed_update_id >= ids[-1], timeout=30)
    await settled(app)
    stop.set()
    await second
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == len(USERS)
    assert await count(app.db, "SELECT count(*) FROM outbox") == 2 * len(USERS)  # each step ran once
    for user in USERS:  # every reply arrived; one in flight at the kill may arrive twice
        texts = [call.text for call in fake.sent_to(user)]
        assert len(set(texts)) == 2 and len(texts) <= 3, texts
    await app.db.dispose()


async def test_a_redelivered_update_is_processed_once(app: App, fake: FakeBotAPI) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_poller(app, app.engine, stop))
    update_id = fake.push_update(fake.message_update(901, "/start"))
    await fake.wait_for_async(lambda: fake.confirmed_update_id >= update_id, timeout=30)
    await settled(app)
    fake.redeliver(update_id)
    later = fake.push_update(fake.message_update(902, "/start"))
    await fake.wait_for_async(lambda: fake.confirmed_update_id >= later, timeout=30)
    await settled(app)
    stop.set()
    await task
    assert len(fake.sent_to(901)) == 2
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == 2
    await app.db.dispose()


async def test_a_sender_killed_mid_batch_loses_nothing_and_repeats_at_most_one_batch(
    app: App, fake: FakeBotAPI
) -> None:
    fake.latency = 0.02
    total = 90
    async with app.db.transaction() as session:
        session.add_all(
            outbox.new_row(channel="telegram", address=str(10_000 + i), body={"text": f"b{i}"},
                           priority=Priority.BULK, now=utcnow())
            for i in range(total)
        )
    bot = app.telegram()
    async with bot:
        first = app.sender([TelegramTransport(bot)])
        first.lease_seconds = 1.0
        stop = asyncio.Event()
        task = asyncio.create_task(first.run(stop))
        await fake.wait_for_async(lambda: len(fake.delivered) >= 40, timeout=30)
        task.cancel()  # killed: its leased rows stay leased until the lease runs out
        await asyncio.gather(task, return_exceptions=True)
        second = app.sender([TelegramTransport(bot)])
        second.owner = "restarted"
        stop = asyncio.Event()
        task = asyncio.create_task(second.run(stop))
        await settled(app)
        stop.set()
        await task
    delivered = Counter(call.text for call in fake.delivered)
    assert set(delivered) == {f"b{i}" for i in range(total)}, "a message was lost"
    duplicates = sum(n - 1 for n in delivered.values())
    assert duplicates <= 30
    assert await count(app.db, "SELECT count(*) FROM outbox WHERE status = 'sent'") == total
    await app.db.dispose()
