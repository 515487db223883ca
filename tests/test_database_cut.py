"""Failure drill: the database connection is cut while Telegram updates arrive.

A small TCP proxy on localhost stands between the web app and PostgreSQL; the test cuts it (closes the
listening socket and drops every open connection) and restores it while chats keep posting to
`/telegram`. The test behaves like Telegram: an update answered 5xx is delivered again until it gets a
2xx. Every update must then be processed exactly once (one inbound record, its replies in the outbox
once) and none lost. PostgreSQL only: SQLite has no connection to cut."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from telegram import Bot

from bot.app import App
from bot.channels.telegram.transport import TelegramTransport
from bot.sender import Sender
from bot.settings import Settings
from handlers.messages import Reply
from storage.db import Database
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI

SECRET = "rahasia-webhook-0123456789"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
CHATS = 12
RETRY_PAUSE = 0.02  # Telegram waits longer; the test only needs the retry to come after the cut
_update_ids = itertools.count(9_000_000)


class Proxy:
    """A TCP proxy on 127.0.0.1 to one target that can be cut (refusing and dropping connections) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0  # chosen by the system on the first open, kept afterwards
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and drop every connection at once (no goodbye to either side)."""
        server, self._server = self._server, None
        assert server is not None
        server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        await server.wait_closed()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        if not self.is_open:  # cut while this connection was being made
            client_writer.transport.abort()
            server_writer.transport.abort()
            return
        self._links |= {client_writer, server_writer}
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            self._links -= {client_writer, server_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes one way until either side ends, then drop the other side too."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


@dataclass
class Telegram:
    """Posts a chat's updates in order, each again after any non-2xx answer, as Telegram does."""

    client: httpx.AsyncClient
    answers: list[int] = field(default_factory=list)
    handled: int = 0

    async def deliver(self, update: dict[str, object]) -> None:
        while True:
            response = await self.client.post("/telegram", json=update, headers=HEADERS)
            self.answers.append(response.status_code)
            if response.is_success:
                self.handled += 1
                return
            assert response.status_code == 503, f"unexpected answer {response.status_code}"
            await asyncio.sleep(RETRY_PAUSE)

    async def chat(self, updates: list[dict[str, object]]) -> None:
        for update in updates:
            await self.deliver(update)

    @property
    def refused(self) -> int:
        return sum(1 for status in self.answers if status >= 500)


def script(fake: FakeBotAPI, user_id: int) -> list[dict[str, object]]:
    """One person's updates: start, pick Indonesian, some text the menu does not know, the menu."""
    updates = [fake.message_update(user_id, "/start"), fake.callback_update(user_id, "lang:id", message_id=1),
               fake.message_update(user_id, "halo"), fake.message_update(user_id, "/menu")]
    return [{**update, "update_id": next(_update_ids)} for update in updates]


async def replies_to(db: Database, user_id: int) -> list[str]:
    """The texts in the outbox for one chat, in order."""
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT body FROM outbox WHERE channel = 'telegram' AND address = :a ORDER BY id"), {"a": str(user_id)}
        )
        return [Reply.from_body(body).text for body in rows.scalars()]


async def when(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


async def drill(proxy: Proxy, telegram: Telegram, total: int) -> None:
    """Cut the proxy twice while updates arrive, each time until some were refused, then restore it."""
    for share in (0.25, 0.6):
        await when(lambda share=share: telegram.handled >= total * share)
        refused = telegram.refused
        await proxy.cut()
        await when(lambda refused=refused: telegram.refused >= refused + 3)
        await proxy.open()


async def guarded(*steps: Awaitable[None]) -> None:
    await asyncio.wait_for(asyncio.gather(*steps), 60)


async def send_the_rest(worker: Sender, db: Database) -> None:
    """What a worker does after the cut: claim the rows whose lease ran out (replies the web process could
    not send while the database was away) until every row is sent."""
    async def until_sent() -> None:
        while await count(db, "SELECT count(*) FROM outbox WHERE status <> 'sent'"):
            if not await worker.drain_once():
                await asyncio.sleep(0.05)

    await asyncio.wait_for(until_sent(), 30)


@dataclass
class Setup:
    """The web app reaching PostgreSQL through the proxy, a worker reaching it directly, and Telegram."""

    proxy: Proxy
    app: App
    worker: App
    bot: Bot
    telegram: Telegram


@asynccontextmanager
async def behind_a_proxy(database_url: str, telegram_settings: Settings) -> AsyncIterator[Setup]:
    if not database_url.startswith("postgresql"):
        pytest.skip("the connection cut needs PostgreSQL (SQLite has no connection to cut)")
    target = make_url(database_url)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.open()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = telegram_settings.model_copy(update={"webhook_secret": SecretStr(SECRET), "sender_lease_seconds": 1.0})
    app = App(settings.model_copy(update={"database_url": proxied}))
    worker = App(settings)  # a worker process, straight to the database
    bot = app.telegram()
    try:
        async with bot:
            # Replies are sent after the answer: a send that meets the cut is the worker's to retry, never the
            # request's (uvicorn has answered by then), so the transport does not raise it. An error before the
            # answer still fails the drill: it comes back as a 500, and `Telegram` accepts only 2xx and 503.
            transport = httpx.ASGITransport(app=app.web(bot), raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://ksbb.test") as client:
                yield Setup(proxy, app, worker, bot, Telegram(client))
    finally:
        await app.db.dispose()
        await worker.db.dispose()
        if proxy.is_open:
            await proxy.cut()


async def test_updates_refused_while_the_database_is_cut_are_delivered_again_and_processed_once(
    database_url: str, telegram_settings: Settings, fake: FakeBotAPI
) -> None:
    async with behind_a_proxy(database_url, telegram_settings) as setup:
        telegram, db = setup.telegram, setup.worker.db
        control = 1_000
        first = script(fake, control)
        await telegram.chat(first)  # before any cut: what each chat must get
        expected = await replies_to(db, control)
        assert len(expected) >= len(first)
        users = list(range(control + 1, control + 1 + CHATS))
        updates = {user: script(fake, user) for user in users}
        total = sum(len(chat) for chat in updates.values())
        telegram.handled = 0
        await guarded(drill(setup.proxy, telegram, total), *(telegram.chat(updates[user]) for user in users))
        assert telegram.refused >= 6, "the cut never met an update: the drill proved nothing"
        assert telegram.handled == total
        assert await count(db, "SELECT count(*) FROM inbound_record") == total + len(first)
        assert await count(db, "SELECT count(*) FROM inbound_record WHERE status <> 'handled'") == 0
        for user in users:
            assert await replies_to(db, user) == expected, f"chat {user}"
        await send_the_rest(setup.worker.sender([TelegramTransport(setup.bot)]), db)
    for user in users:  # each reply reached the chat (a send cut before it was recorded may go twice)
        assert Counter(call.text for call in fake.sent_to(user)) >= Counter(expected), f"chat {user}"


async def test_after_a_cut_while_idle_the_next_update_is_handled_at_the_first_delivery(
    database_url: str, telegram_settings: Settings, fake: FakeBotAPI
) -> None:
    async with behind_a_proxy(database_url, telegram_settings) as setup:
        telegram = setup.telegram
        await telegram.chat(script(fake, 2_000)[:1])  # the pool now holds a connection
        await setup.proxy.cut()  # nobody is writing: the pool cannot notice
        await setup.proxy.open()
        await telegram.chat(script(fake, 2_001)[:1])
        assert telegram.answers == [200, 200]  # the stale connection was replaced, not met (pool_pre_ping)
        assert await count(setup.worker.db, "SELECT count(*) FROM inbound_record") == 2
