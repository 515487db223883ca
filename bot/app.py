"""Wiring: one database, the engine, the limiter, senders and the scheduler, built from settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.channels.local.chat import chat
from bot.channels.local.transport import LocalTransport
from bot.engine import Engine
from bot.limiter import make_limiter
from bot.reminders import reminder_duties
from bot.scheduler import Scheduler, retention_duties
from bot.sender import Gate, Sender, Transport
from bot.settings import Settings, SettingsError
from handlers import build_dialog
from handlers.coordinator.broadcast_duty import broadcast_duty
from handlers.coordinator.pledge_duty import pledge_duty
from storage import clock
from storage.db import Database, process_pool


def process_owner() -> str:
    """A name for this process's leases, unique across machines and restarts."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class App:
    """Everything one process needs, sharing one database engine."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        clock.use(settings.tz)
        self.db = db or Database(settings.database_url, **process_pool(settings.database_url))
        self.owner = process_owner()
        self.limiter = make_limiter(self.db, settings)
        self.engine = Engine(
            self.db,
            build_dialog(timedelta(minutes=settings.idle_reset_minutes), settings.pledge_terms, settings.template_terms),
            owner=self.owner,
            default_locale=settings.default_locale,
            lease_seconds=settings.sender_lease_seconds,
        )

    def sender(self, transports: list[Transport]) -> Sender:
        s = self.settings
        return Sender(
            self.db,
            transports,
            self.limiter,
            self.owner,
            batch_size=s.sender_batch_size,
            lease_seconds=s.sender_lease_seconds,
            max_attempts=s.sender_max_attempts,
            idle_seconds=s.sender_idle_seconds,
            gates=self.gates(),
        )

    def gates(self) -> dict[str, Gate]:
        """WhatsApp's 24-hour window, checked at send time with the configured templates."""
        from bot.channels.whatsapp import CHANNEL
        from bot.channels.whatsapp.window import Window

        s = self.settings
        return {CHANNEL: Window(self.db, s.whatsapp_templates, s.whatsapp_daily_cap)}

    def scheduler(self) -> Scheduler:
        retention = timedelta(hours=self.settings.retention_hours)
        return Scheduler(self.db, [*retention_duties(retention), *reminder_duties(), broadcast_duty,
                                  pledge_duty(self.settings.pledge_terms)])

    def telegram(self):  # type: ignore[no-untyped-def]
        """The Bot API client, or None without a token."""
        if self.settings.telegram_bot_token is None:
            return None
        from bot.channels.telegram import make_bot

        return make_bot(self.settings.telegram_bot_token.get_secret_value(), self.settings.telegram_api_base_url)

    async def run_chat(self, user: str) -> None:
        """`ksbb chat`: the local chat on this terminal, nothing else."""
        try:
            await chat(self.engine, self.sender([self._terminal()]), user, sys.stdin, sys.stdout)
        finally:
            await self.db.dispose()

    async def run(self, user: str | None = None, stop: asyncio.Event | None = None) -> None:
        """`ksbb run` (what `make run` starts), in one asyncio loop: Telegram polling with a token, otherwise
        the local chat as `user`; the scheduler; one sender for every configured platform; and, with Twilio
        configured, the web app on PORT (the WhatsApp and Telegram webhooks, /healthz, /metrics). Until
        `stop`, SIGINT/SIGTERM (with a token) or the end of the chat's input."""
        from bot.channels.telegram.commands import register_commands
        from bot.channels.telegram.polling import Poller
        from bot.channels.whatsapp import CHANNEL as WHATSAPP

        bot = self.telegram()
        stop = stop or (_stop_on_signals() if bot else asyncio.Event())
        metrics_server = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if bot:
                    await stack.enter_async_context(bot)
                    await register_commands(bot)
                platforms = self.transports(bot)
                sender = self.sender(platforms)
                jobs = [self.scheduler().run(stop), sender.run(stop)] if platforms else [self.scheduler().run(stop)]
                if bot:
                    jobs.append(Poller(bot, self.engine, sender).run(stop))
                else:
                    jobs.append(self._chat_until(user or "warga", stop))
                if any(t.channel == WHATSAPP for t in platforms):
                    jobs.append(self._serve(self.web(bot), stop, "0.0.0.0", self.settings.port))
                elif self.settings.metrics_port:
                    metrics_server = _serve_metrics(self.settings.metrics_port)
                await _together(stop, jobs)
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            await self.db.dispose()

    def _terminal(self) -> Transport:
        return LocalTransport(sys.stdout, Path("ksbb-files"))

    async def _chat_until(self, user: str, stop: asyncio.Event) -> None:
        """The local chat until its input ends (which stops everything else) or something else stops."""
        talking = asyncio.create_task(chat(self.engine, self.sender([self._terminal()]), user, sys.stdin, sys.stdout))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({talking, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            talking.cancel()
            stop.set()
        if talking.done() and not talking.cancelled():
            talking.result()

    async def _serve(self, asgi, stop: asyncio.Event, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
        """The web app on uvicorn in this loop until `stop` (the process's own signal handlers set it;
        uvicorn's are left out, since uvicorn re-raises a signal it caught once it has shut down)."""
        import uvicorn

        class Served(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[no-untyped-def]
                yield

        server = Served(uvicorn.Config(asgi, host=host, port=port, log_config=None, lifespan="off"))

        async def stopping() -> None:
            await stop.wait()
            server.should_exit = True

        watcher = asyncio.create_task(stopping())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    def whatsapp(self) -> Transport | None:
        """The Twilio WhatsApp transport, or None without Twilio settings."""
        s = self.settings
        if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_whatsapp_from):
            return None
        from bot.channels.whatsapp import make_client
        from bot.channels.whatsapp.transport import WhatsAppTransport

        client = make_client(s.twilio_account_sid, s.twilio_auth_token.get_secret_value(), s.twilio_api_base_url)
        callback = s.public_base_url.rstrip("/") + "/whatsapp/status" if s.public_base_url else None
        return WhatsAppTransport(client, s.twilio_whatsapp_from, callback, s.public_base_url,
                                 s.twilio_auth_token.get_secret_value(), s.whatsapp_quick_replies,
                                 workers=s.twilio_mps)

    def transports(self, bot) -> list[Transport]:  # type: ignore[no-untyped-def]
        """Every configured platform's transport."""
        from bot.channels.telegram.transport import TelegramTransport

        found: list[Transport] = [TelegramTransport(bot)] if bot else []
        whatsapp = self.whatsapp()
        return [*found, whatsapp] if whatsapp else found

    def web(self, bot):  # type: ignore[no-untyped-def]
        """The ASGI app (webhooks, health check) on this process's engine; one sender per channel for
        the replies it leases."""
        from bot.web import Webhooks, create_app

        s = self.settings
        hooks = Webhooks(
            senders={t.channel: self.sender([t]) for t in self.transports(bot)},
            telegram_bot=bot,
            telegram_secret=s.webhook_secret.get_secret_value() if s.webhook_secret else None,
            twilio_auth_token=s.twilio_auth_token.get_secret_value() if s.twilio_auth_token else None,
            public_base_url=s.public_base_url,
            twilio_overrides=s.twilio_webhook_overrides,
        )
        return create_app(self.db, self.engine, hooks)

    async def run_web(self, host: str, port: int) -> None:
        """`ksbb web`: serve the web app until SIGINT/SIGTERM, then close the Bot API client and the pool."""
        stop = _stop_on_signals()
        bot = self.telegram()
        if bot:
            await bot.initialize()
        try:
            await self._serve(self.web(bot), stop, host, port)
        finally:
            if bot:
                await bot.shutdown()
            await self.db.dispose()

    async def set_webhook(self) -> str:
        """Register `PUBLIC_BASE_URL/telegram` and the secret with Telegram."""
        from bot.channels.telegram.inbound import ALLOWED_UPDATES

        bot = self.telegram()
        if bot is None or not self.settings.public_base_url or self.settings.webhook_secret is None:
            raise SettingsError("Setting TELEGRAM_BOT_TOKEN, PUBLIC_BASE_URL and WEBHOOK_SECRET are needed for a webhook.")
        url = self.settings.public_base_url.rstrip("/") + "/telegram"
        async with bot:
            await bot.set_webhook(url, secret_token=self.settings.webhook_secret.get_secret_value(),
                                  allowed_updates=ALLOWED_UPDATES)
        return url

    async def run_worker(self) -> None:
        """Senders for every configured channel; the scheduler when this worker holds the lock."""
        stop = _stop_on_signals()
        bot = self.telegram()
        if bot:
            await bot.initialize()
        metrics_server = _serve_metrics(self.settings.metrics_port) if self.settings.metrics_port else None
        try:
            await asyncio.gather(self.sender(self.transports(bot)).run(stop), self.scheduler().run(stop))
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            if bot:
                await bot.shutdown()
            await self.db.dispose()


async def _together(stop: asyncio.Event, jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs until all end; the first to fail stops the others (through `stop`) and is raised."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _serve_metrics(port: int):  # type: ignore[no-untyped-def]
    """This process's Prometheus metrics on `port` (`/metrics`), from a thread of prometheus-client's."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port)
    return server


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
