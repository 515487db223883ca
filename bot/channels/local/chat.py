"""`ksbb chat`: read a message, hand it to the engine, print what the outbox holds for this user."""

from __future__ import annotations

import asyncio
import uuid
from typing import TextIO

from bot.channels.local.transport import CHANNEL
from bot.engine import Engine
from bot.sender import Sender
from handlers.messages import Inbound, Kind


def identity_key(user: str) -> str:
    return f"{CHANNEL}:{user}"


async def chat(engine: Engine, sender: Sender, user: str, stdin: TextIO, stdout: TextIO) -> None:
    """Talk until end of input; with a pipe, one message per line, each answered before the next."""
    interactive = stdin.isatty()
    await _deliver_waiting(sender, user)
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if not interactive:
            stdout.write(f"> {text}\n")
        message = Inbound(
            channel=CHANNEL,
            bot=CHANNEL,
            platform_id=uuid.uuid4().hex,
            sender=identity_key(user),
            address=user,
            kind=Kind.TEXT,
            text=text,
        )
        outcome = await engine.handle(message)
        await sender.deliver(outcome.replies)
        await _deliver_waiting(sender, user)


async def _deliver_waiting(sender: Sender, user: str) -> None:
    """Print every other row waiting for this user (notifications, broadcasts)."""
    while await sender.drain_once(address=user):
        pass

