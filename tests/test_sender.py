"""The outbox sender against the fake Bot API: pacing, priorities, 429, 403, bounded retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.telegram import make_bot
from bot.channels.telegram.transport import TelegramTransport
from bot.limiter import MemoryLimiter, Rules
from bot.sender import Sender
from handlers.messages import Reply
from storage import outbox
from storage.db import Database
from storage.models import Identity, Outbox, Person
from storage.outbox import Priority
from storage.types import utcnow
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI

TOKEN = "123456:TEST-token-0123456789abcdefghijklmnop"


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(fake_api: FakeBotAPI) -> FakeBotAPI:
    fake_api.reset()
    fake_api.latency = 0.0
    fake_api.global_per_second, fake_api.chat_burst, fake_api.chat_per_second = 300, 3, 10.0
    return fake_api


@pytest.fixture
async def transport(fake: FakeBotAPI) -> AsyncIterator[TelegramTransport]:
    bot = make_bot(TOKEN, fake.base_url, connections=64)
    async with bot:
        yield TelegramTransport(bot)


def sender(db: Database, transport: TelegramTransport, owner: str = "s1", rules: Rules | None = None, **kw: object) -> Sender:
    rules = rules or Rules(global_per_second=300, chat_burst=3, chat_per_second=10.0)
    options: dict[str, object] = {"lease_seconds": 5.0, "idle_seconds": 0.02, "retry_base_seconds": 0.05, **kw}
    return Sender(db, [transport], MemoryLimiter({"telegram": rules}), owner, **options)  # type: ignore[arg-type]


async def enqueue(db: Database, messages: list[tuple[str, str]], priority: Priority = Priority.BULK) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add_all(
            outbox.new_row(channel="telegram", address=address, body={"text": text}, priority=priority, now=now)
            for address, text in messages
        )


async def drain(s: Sender, db: Database, timeout: float = 30) -> None:
    """Run the sender until nothing is pending."""
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await count(db, "SELECT count(*) FROM outbox WHERE status = 'pending'"):
        assert loop.time() < deadline, "outbox not drained in time"
        await asyncio.sleep(0.02)
    stop.set()
    await task


async def test_our_pacing_causes_no_429_at_the_platform_limits(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    fake.global_per_second, fake.chat_burst, fake.chat_per_second = 20, 3, 10.0
    messages = [(str(1000 + i % 4), f"m{i}") for i in range(40)]
    await enqueue(db, messages)
    # The fake runs in this process, so its clock sees our requests with up to tens of ms of jitter.
    await drain(sender(db, transport, rules=Rules(20, 3, 10.0, margin=0.1)), db)
    assert fake.count_429 == 0
    assert fake.max_in_any_window(1.0) <= 20
    assert sorted(call.text for call in fake.delivered) == sorted(text for _, text in messages)


async def test_a_429_is_obeyed_and_nothing_is_lost_or_doubled(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    fake.chat_burst, fake.chat_per_second = 2, 5.0  # stricter than our limiter believes
    messages = [("2000", f"m{i}") for i in range(6)]
    await enqueue(db, messages)
    await drain(sender(db, transport), db)
    assert fake.count_429 >= 1
    assert [call.text for call in fake.sent_to(2000)] == [text for _, text in messages]  # in order, once each


async def test_a_broadcast_at_the_limit_never_pauses_between_batches(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    # While one half-batch's last answers are awaited, recorded and the next half claimed, the other
    # half's sends keep going: the platform never waits for an answer before the next send. The fake
    # answers each send only once a later one has arrived, so a sender that paused between batches for
    # their answers would never be answered, and drain's hang guard would fail the test.
    fake.hold_each_send_until_the_next(expected=60)
    await enqueue(db, [(str(7000 + i), f"m{i}") for i in range(60)])
    s = sender(db, transport, rules=Rules(global_per_second=20, spacing=0.05), batch_size=20)
    await drain(s, db)
    assert len(fake.delivered) == 60
    assert len(s._chats) == 0, "a lock per chat kept after its sends"


async def test_replies_go_before_bulk(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    fake.latency = 0.01
    await enqueue(db, [(str(3000 + i), f"bulk{i}") for i in range(90)])
    s = sender(db, transport, rules=Rules(60, 3, 10.0))
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop))
    await fake.wait_for_async(lambda: len(fake.delivered) >= 5)
    await enqueue(db, [("4000", "reply")], Priority.REPLY)
    await fake.wait_for_async(lambda: any(c.text == "reply" for c in fake.delivered))
    position = [c.text for c in fake.delivered].index("reply")
    stop.set()
    await task
    assert position < 60, f"the reply waited behind {position} bulk messages"


async def test_a_person_who_blocked_the_bot_becomes_unreachable(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    async with db.transaction() as session:
        session.add(Identity(key="telegram:5000", channel="telegram", address="5000", person=Person(locale="id")))
    fake.block(5000)
    await enqueue(db, [("5000", "hello")])
    await drain(sender(db, transport), db)
    async with db.transaction() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
        identity = (await session.execute(select(Identity))).scalar_one()
    assert row.status == outbox.UNREACHABLE
    assert identity.unreachable_at is not None and identity.unreachable_at >= now - timedelta(seconds=1)


async def test_transient_failures_are_retried_then_given_up(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    fake.fail_next("sendMessage", count=2, status=500)
    await enqueue(db, [("6000", "retried")])
    await drain(sender(db, transport, max_attempts=3), db)
    assert [c.text for c in fake.sent_to(6000)] == ["retried"]
    fake.fail_next("sendMessage", count=10, status=502)
    await enqueue(db, [("6001", "lost cause")])
    await drain(sender(db, transport, max_attempts=3), db)
    async with db.transaction() as session:
        row = (await session.execute(select(Outbox).where(Outbox.address == "6001"))).scalar_one()
    assert (row.status, row.attempts) == (outbox.FAILED, 3)
    assert fake.sent_to(6001) == []


async def test_a_permanent_refusal_is_not_retried(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    fake.fail_next("sendMessage", count=1, status=400, description="Bad Request: message text is empty")
    await enqueue(db, [("7000", "refused")])
    await drain(sender(db, transport), db)
    async with db.transaction() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
    assert (row.status, row.attempts) == (outbox.FAILED, 1)


async def test_a_message_that_expired_in_the_queue_is_dropped_not_sent_late(db: Database, fake: FakeBotAPI, transport) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    async with db.transaction() as session:
        session.add(outbox.new_row(channel="telegram", address="8000", priority=Priority.BULK, now=now,
                                   body=Reply("besok penimbangan", expires_at=now - timedelta(minutes=1)).to_body()))
        session.add(outbox.new_row(channel="telegram", address="8001", priority=Priority.BULK, now=now,
                                   body=Reply("masih berlaku", expires_at=now + timedelta(hours=1)).to_body()))
    await drain(sender(db, transport), db)
    assert [c.text for c in fake.delivered] == ["masih berlaku"]
    assert await count(db, "SELECT count(*) FROM outbox WHERE status = 'expired'") == 1
