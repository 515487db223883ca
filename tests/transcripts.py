"""Conversations as transcripts: what the person does, and the replies the bot must give, run through
each channel's real entry point: `ksbb chat` as a subprocess (local), the polling loop against the fake
Bot API (telegram), the ASGI app with the secret token (telegram_webhook), and signed Twilio form posts
to the ASGI app with replies read from the fake Twilio API (whatsapp).

A test parametrized over `CHANNELS` runs a transcript with `on_channel(name, request).turns(user, transcript)`
(it must also ask for `database_url`, so it runs on every backend)."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from bot.app import App
from bot.channels.local.chat import identity_key as local_identity
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.transport import TelegramTransport
from bot.channels.whatsapp.inbound import PREFIX as WHATSAPP_PREFIX
from bot.sender import Sender
from bot.settings import Settings
from handlers.text.i18n import LOCALES, translate
from storage.db import Database
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Say:
    """The person types this text."""

    text: str


@dataclass(frozen=True)
class Tap:
    """The person picks the offered choice with this label (a button, or typing it)."""

    label: str


Action = Say | Tap
# Each reply, in order: (locale, message key) or (locale, message key, placeholder values).
Expected = Sequence[tuple[str, str] | tuple[str, str, dict[str, object]]]
Transcript = Sequence[tuple[Action, Expected]]


def texts(expected: Expected) -> list[str]:
    return [translate(item[0], item[1], **(item[2] if len(item) > 2 else {})) for item in expected]  # type: ignore[misc]


def local_chat(database_url: str, user: str, transcript: Transcript, timeout: float = 60) -> list[str]:
    """Run `ksbb chat --user USER` as a subprocess with the transcript on a pipe; what it printed
    after each message."""
    lines = [action.text if isinstance(action, Say) else action.label for action, _ in transcript]
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", user],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return split_turns(result.stdout, lines)


def split_turns(output: str, lines: list[str]) -> list[str]:
    """What was printed after each `> message` echo."""
    turns = [chunk.partition("\n")[2] for chunk in ("\n" + output).split("\n> ")[1:]]
    assert len(turns) == len(lines), output
    return turns


def assert_turns(turns: Sequence[str | list[str]], transcript: Transcript) -> None:
    """Each turn holds the expected replies in order: exactly those messages when the channel
    delivers them one by one (Telegram), in that order within the printed text (local chat)."""
    for (action, expected), turn in zip(transcript, turns, strict=True):
        wanted = texts(expected)
        if isinstance(turn, str):
            position = 0
            for text in wanted:
                found = turn.find(text, position)
                assert found >= 0, (action, turn, text)
                position = found + len(text)
            continue
        assert len(turn) == len(wanted), (action, turn, wanted)
        for message, text in zip(turn, wanted, strict=True):
            assert message.startswith(text), (action, message, text)


class TelegramChat:
    """A Telegram user talking through the fake Bot API to the real polling loop and sender."""

    def __init__(self, fake: FakeBotAPI, app: App, user_id: int) -> None:
        self.fake = fake
        self.app = app
        self.user_id = user_id
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> TelegramChat:
        self.bot = self.app.telegram()
        await self.bot.initialize()
        self.sender = self.app.sender([TelegramTransport(self.bot)])
        self.poller = Poller(self.bot, self.app.engine, self.sender, timeout=1, retry_seconds=0.1)
        self.tasks = [asyncio.create_task(self.poller.run(self.stop)), asyncio.create_task(self.sender.run(self.stop))]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        await self.bot.shutdown()

    async def do(self, action: Action) -> list[str]:
        """Send a message or press a button, wait until it is handled and answered; the reply texts."""
        before = len(self.fake.sent_to(self.user_id))
        update_id = self.fake.push_update(telegram_update(self.fake, self.user_id, action))
        await self.fake.wait_for_async(lambda: self.fake.confirmed_update_id >= update_id, timeout=30)
        await self.settled()
        return [call.text or "" for call in self.fake.sent_to(self.user_id)[before:]]

    def button(self, label: str) -> str | None:
        """The callback data of the button with this label in the latest keyboard (None: a reply keyboard)."""
        return latest_button(self.fake, self.user_id, label)

    async def settled(self, timeout: float = 30) -> None:
        """Wait until no Telegram outbox row is pending (rows for other channels are not ours to send)."""
        await settled(self.app.db, TelegramTransport.channel, timeout)


async def telegram_turns(fake: FakeBotAPI, app: App, user_id: int, transcript: Transcript) -> list[list[str]]:
    async with TelegramChat(fake, app, user_id) as chat:
        return [await chat.do(action) for action, _ in transcript]


# --- Shared by the channels ------------------------------------------------------------------------


async def settled(db: Database, channel: str, timeout: float = 30) -> None:
    """Wait until no outbox row of this channel is pending (all replies and notifications went out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await count(db, "SELECT count(*) FROM outbox WHERE status = 'pending' AND channel = :c", c=channel):
        assert loop.time() < deadline, "replies were not delivered in time"
        await asyncio.sleep(0.02)


def latest_button(fake: FakeBotAPI, user_id: int, label: str) -> str | None:
    """The callback data of the button with this label in the latest keyboard sent to the user; None
    when that keyboard is a reply keyboard (its buttons send their label as a message)."""
    for call in reversed(fake.sent_to(user_id)):
        if call.reply_markup:
            inline = "inline_keyboard" in call.reply_markup
            for row in call.reply_markup.get("inline_keyboard") or call.reply_markup.get("keyboard", []):
                for button in row:
                    if button["text"] == label:
                        return str(button["callback_data"]) if inline else None
            raise AssertionError(f"no button {label!r} in the latest keyboard")
    raise AssertionError("no keyboard was shown")


def telegram_update(fake: FakeBotAPI, user_id: int, action: Action) -> dict[str, object]:
    """The update an action becomes: a message, a press on an inline button, or a reply-keyboard
    button's label sent as a message."""
    if isinstance(action, Tap) and (data := latest_button(fake, user_id, action.label)) is not None:
        return fake.callback_update(user_id, data)
    return fake.message_update(user_id, action.text if isinstance(action, Say) else action.label)


class Worker:
    """A `worker` process beside a web process: its sender delivers what the bot starts (notifications,
    broadcasts); the web process sends the replies it handled itself."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.sender.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


# --- Telegram through the webhook ------------------------------------------------------------------

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_SECRET = "rahasia-transkrip-0123456789"
_webhook_update_ids = itertools.count(1_000_000)  # apart from the ids the polling fake hands out


class TelegramWebhookChat:
    """A Telegram user whose updates Telegram posts to `/telegram` (the ASGI app, with the secret token);
    the web process's sender delivers the replies to the fake Bot API."""

    def __init__(self, fake: FakeBotAPI, app: App, user_id: int) -> None:
        self.fake = fake
        self.app = app
        self.user_id = user_id
        secret = app.settings.webhook_secret
        assert secret is not None, "the webhook needs WEBHOOK_SECRET"
        self.headers = {TELEGRAM_SECRET_HEADER: secret.get_secret_value()}

    async def __aenter__(self) -> Self:
        self.bot = self.app.telegram()
        await self.bot.initialize()
        asgi = httpx.ASGITransport(app=self.app.web(self.bot))
        self.client = httpx.AsyncClient(transport=asgi, base_url="http://ksbb.test")
        self.worker = Worker(self.app.sender([TelegramTransport(self.bot)]))
        self.worker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.close()
        await self.client.aclose()
        await self.bot.shutdown()

    async def do(self, action: Action) -> list[str]:
        """Post the update as Telegram would; once answered, the reply texts the user received."""
        before = len(self.fake.sent_to(self.user_id))
        update = {**telegram_update(self.fake, self.user_id, action), "update_id": next(_webhook_update_ids)}
        response = await self.client.post("/telegram", json=update, headers=self.headers)
        assert response.status_code == 200, (action, response.status_code)
        await settled(self.app.db, TelegramTransport.channel)
        return [call.text or "" for call in self.fake.sent_to(self.user_id)[before:]]


# --- WhatsApp through Twilio -----------------------------------------------------------------------

PUBLIC_BASE_URL = "https://ksbb.example.org"
BOT_NUMBER = "+6281100000000"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
_message_sids = itertools.count(1)


def whatsapp_settings(settings: Settings, twilio: FakeTwilioAPI) -> Settings:
    """Settings with Twilio pointed at the fake and the public URL Twilio signs."""
    return settings.model_copy(update={
        "twilio_account_sid": twilio.account_sid, "twilio_auth_token": SecretStr(twilio.auth_token),
        "twilio_whatsapp_from": BOT_NUMBER, "twilio_api_base_url": twilio.base_url, "public_base_url": PUBLIC_BASE_URL,
    })


def split_choices(body: str) -> tuple[str, dict[str, str]]:
    """A WhatsApp message as rendered: its text, and its numbered choices (label → number) after the
    "Balas dengan angka:" header (in either language)."""
    for locale in LOCALES:
        text, found, listing = body.partition("\n\n" + translate(locale, "whatsapp.reply_with_number") + "\n")
        if found:
            numbered = (line.split(". ", 1) for line in listing.splitlines())
            return text, {label: number for number, label in numbered}
    return body, {}


class WhatsAppChat:
    """A WhatsApp user: each message a signed Twilio form post to `/whatsapp` on the ASGI app; the replies
    as the fake Twilio API received them, their text up to the numbered choices. A tap is typing the
    number of that label in the latest numbered list."""

    def __init__(self, twilio: FakeTwilioAPI, app: App, number: str) -> None:
        self.twilio = twilio
        self.app = app
        self.number = number

    async def __aenter__(self) -> Self:
        transport = self.app.whatsapp()
        assert transport is not None, "WhatsApp needs the Twilio settings (see whatsapp_settings)"
        asgi = httpx.ASGITransport(app=self.app.web(None))
        self.client = httpx.AsyncClient(transport=asgi, base_url="http://internal")
        self.worker = Worker(self.app.sender([transport]))
        self.worker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.close()
        await self.client.aclose()

    async def do(self, action: Action) -> list[str]:
        """Send the text (or the number of the choice), wait until answered; the reply texts."""
        before = len(self.twilio.sent_to(self.number))
        await self.post(action.text if isinstance(action, Say) else self.choice_number(action.label))
        await settled(self.app.db, "whatsapp")
        return [split_choices(message.body or "")[0] for message in self.twilio.sent_to(self.number)[before:]]

    async def post(self, body: str, **fields: str) -> None:
        """One inbound message as Twilio posts it, signed over the public URL."""
        params = {"MessageSid": f"SM{next(_message_sids):032x}", "AccountSid": self.twilio.account_sid,
                  "From": WHATSAPP_PREFIX + self.number, "To": WHATSAPP_PREFIX + BOT_NUMBER, "Body": body,
                  "NumMedia": "0", **fields}
        signature = RequestValidator(self.twilio.auth_token).compute_signature(PUBLIC_BASE_URL + "/whatsapp", params)
        response = await self.client.post("/whatsapp", data=params, headers={TWILIO_SIGNATURE_HEADER: signature})
        assert response.status_code == 200, (body, response.status_code)

    def choice_number(self, label: str) -> str:
        """The number of the choice with this label in the latest message that offered choices."""
        for message in reversed(self.twilio.sent_to(self.number)):
            choices = split_choices(message.body or "")[1]
            if choices:
                assert label in choices, f"no choice {label!r} in the latest list: {list(choices)}"
                return choices[label]
        raise AssertionError("no numbered choices were shown")


# --- One transcript, any channel -------------------------------------------------------------------

CHANNELS = ("local", "telegram", "telegram_webhook", "whatsapp")


@dataclass(frozen=True)
class OnChannel:
    """Test person number `user` on one channel, through its real entry point. A test using it must ask
    for `database_url` (so it runs on every backend); the fakes come from the conftest fixtures, reset
    for each test."""

    name: str
    request: pytest.FixtureRequest

    def local_user(self, user: int) -> str:
        return f"warga{user}"

    def whatsapp_number(self, user: int) -> str:
        return f"+62812{user:07d}"

    def identity(self, user: int) -> str:
        """The identity key the person has on this channel (for granting roles before the transcript)."""
        if self.name == "local":
            return local_identity(self.local_user(user))
        if self.name == "whatsapp":
            return WHATSAPP_PREFIX + self.whatsapp_number(user)
        return f"telegram:{user}"

    def app(self) -> App:
        """A fresh process for this channel (a new one per transcript is a restart)."""
        fixture = self.request.getfixturevalue
        if self.name == "telegram":
            return App(fixture("telegram_settings"))
        if self.name == "telegram_webhook":
            return App(fixture("telegram_settings").model_copy(update={"webhook_secret": SecretStr(WEBHOOK_SECRET)}))
        if self.name == "whatsapp":
            return App(whatsapp_settings(fixture("settings"), fixture("twilio_api")))
        raise ValueError(f"the {self.name} channel runs whole transcripts only (local_chat)")

    def chat(self, app: App, user: int) -> TelegramChat | TelegramWebhookChat | WhatsAppChat:
        """An open-able chat of the person (`async with … as chat: await chat.do(Tap("…"))`)."""
        if self.name == "telegram":
            return TelegramChat(self.request.getfixturevalue("fake"), app, user)
        if self.name == "telegram_webhook":
            return TelegramWebhookChat(self.request.getfixturevalue("fake"), app, user)
        if self.name == "whatsapp":
            return WhatsAppChat(self.request.getfixturevalue("twilio_api"), app, self.whatsapp_number(user))
        raise ValueError(f"the {self.name} channel runs whole transcripts only (local_chat)")

    async def turns(self, user: int, transcript: Transcript) -> list[str] | list[list[str]]:
        """Run the transcript in a fresh process; what the person saw after each action (see assert_turns)."""
        if self.name == "local":
            database_url = self.request.getfixturevalue("database_url")
            return await asyncio.to_thread(local_chat, database_url, self.local_user(user), transcript)
        app = self.app()
        try:
            async with self.chat(app, user) as chat:
                return [await chat.do(action) for action, _ in transcript]
        finally:
            await app.db.dispose()


def on_channel(name: str, request: pytest.FixtureRequest) -> OnChannel:
    """The channel a parametrized test runs on ("local", "telegram", "telegram_webhook", "whatsapp")."""
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}")
    return OnChannel(name, request)
