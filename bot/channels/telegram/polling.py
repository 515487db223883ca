"""Long polling that confirms an update to Telegram only after it is committed or recorded as failed."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot
from telegram.error import Conflict, NetworkError

from bot.channels.telegram.inbound import ALLOWED_UPDATES, to_inbound
from bot.engine import DatabaseUnavailable, Engine
from bot.sender import Sender
from storage.models import Outbox

log = logging.getLogger(__name__)


class Poller:
    """Fetches updates with `getUpdates(offset=…)`; the offset moves past an update only once handled."""

    def __init__(
        self, bot: Bot, engine: Engine, sender: Sender, *, timeout: int = 30, retry_seconds: float = 2.0
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.sender = sender
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.offset: int | None = None
        self._deliveries: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until stopped, then wait for replies already handed to the sender."""
        try:
            while not stop.is_set():
                await self.poll_once(stop)
        finally:
            if self._deliveries:
                await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def poll_once(self, stop: asyncio.Event) -> None:
        """One getUpdates round (abandoned if we stop while it waits: nothing was fetched), then each
        update in order, stopping at the first the database refuses."""
        fetching = asyncio.ensure_future(
            self.bot.get_updates(offset=self.offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES)
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetching.done():
            fetching.cancel()
            return
        try:
            updates = fetching.result()
        except (Conflict, NetworkError) as exc:
            log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(self.retry_seconds)
            return
        for update in updates:
            inbound = to_inbound(update, str(self.bot.id))
            if inbound is not None:
                try:
                    outcome = await self.engine.handle(inbound)
                except DatabaseUnavailable:
                    log.warning("database unavailable; update %s will be fetched again", update.update_id)
                    await asyncio.sleep(self.retry_seconds)
                    return
                self._deliver(outcome.replies)
                if update.callback_query is not None:
                    with contextlib.suppress(Exception):
                        await update.callback_query.answer()
            self.offset = update.update_id + 1

    def _deliver(self, replies: tuple[Outbox, ...]) -> None:
        """Send the committed replies without holding up the next update."""
        task = asyncio.create_task(self.sender.deliver(replies))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
