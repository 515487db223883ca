"""Telegram through python-telegram-bot's Bot API client: our own polling loop, inline keyboards."""

from __future__ import annotations

from telegram import Bot
from telegram.request import HTTPXRequest

CHANNEL = "telegram"


def make_bot(token: str, base_url: str, connections: int = 16) -> Bot:
    """A Bot API client; sends get a pool of connections, long polling gets its own."""
    return Bot(
        token,
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=connections),
        get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=40),
    )
