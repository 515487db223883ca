"""Conversations as transcripts: what the person does, and the replies the bot must give, run through
each channel's real entry point."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.app import App
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.transport import TelegramTransport
from bot.i18n import translate
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI

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
        if isinstance(action, Say):
            update = self.fake.message_update(self.user_id, action.text)
        else:
            update = self.fake.callback_update(self.user_id, self.button(action.label))
        update_id = self.fake.push_update(update)
        await self.fake.wait_for_async(lambda: self.fake.confirmed_update_id >= update_id, timeout=10)
        await self.settled()
        return [call.text or "" for call in self.fake.sent_to(self.user_id)[before:]]

    def button(self, label: str) -> str:
        """The callback data of the button with this label in the latest keyboard."""
        for call in reversed(self.fake.sent_to(self.user_id)):
            if call.reply_markup:
                for row in call.reply_markup["inline_keyboard"]:
                    for button in row:
                        if button["text"] == label:
                            return str(button["callback_data"])
                raise AssertionError(f"no button {label!r} in the latest keyboard")
        raise AssertionError("no keyboard was shown")

    async def settled(self, timeout: float = 10) -> None:
        """Wait until no outbox row is pending."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await count(self.app.db, "SELECT count(*) FROM outbox WHERE status = 'pending'"):
            assert loop.time() < deadline, "replies were not delivered in time"
            await asyncio.sleep(0.02)


async def telegram_turns(fake: FakeBotAPI, app: App, user_id: int, transcript: Transcript) -> list[list[str]]:
    async with TelegramChat(fake, app, user_id) as chat:
        return [await chat.do(action) for action, _ in transcript]
