"""Neutral replies → Bot API calls, platform errors → the shared send errors."""

from __future__ import annotations

import html
import warnings
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.errors import Permanent, Throttled, Transient, Unreachable
from bot.channels.telegram import CHANNEL
from bot.channels.text import split_text
from handlers.messages import CONTACT_REQUEST, Reply

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """One button per row, so long Indonesian labels stay readable on small phones. A reply that asks for the
    person's own number gets a one-time keyboard instead: its contact button shares their contact card, the
    other buttons send their label, which the dialog reads as the choice."""
    if not reply.choices:
        return None
    if any(c.key == CONTACT_REQUEST for c in reply.choices):
        rows = [[KeyboardButton(c.label, request_contact=True if c.key == CONTACT_REQUEST else None)]
                for c in reply.choices]
        return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)
    return InlineKeyboardMarkup([[InlineKeyboardButton(c.label, callback_data=c.key)] for c in reply.choices])


class TelegramTransport:
    """Sends text (HTML-escaped), photos and documents, with the choices as an inline keyboard."""

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, address: str, reply: Reply) -> str | None:
        try:
            return await self._send(int(address), reply)
        except RetryAfter as exc:
            raise Throttled(_seconds(exc)) from exc
        except Forbidden as exc:
            raise Unreachable(exc.message) from exc
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise Unreachable(exc.message) from exc
            raise Permanent(exc.message) from exc
        except NetworkError as exc:
            raise Transient(exc.message) from exc
        except TelegramError as exc:  # a revoked token, a group that moved, …
            raise Permanent(exc.message) from exc

    async def _send(self, chat_id: int, reply: Reply) -> str:
        markup = keyboard(reply)
        attachment = reply.document or reply.image
        if attachment is not None:
            caption = html.escape(reply.text[: MessageLimit.CAPTION_LENGTH]) or None
            upload = InputFile(attachment.content, filename=attachment.filename)
            if reply.document is not None:
                sent = await self.bot.send_document(
                    chat_id, upload, caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            else:
                sent = await self.bot.send_photo(
                    chat_id, upload, caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            return str(sent.message_id)
        held = reply.held_photo(CHANNEL)
        if held is not None:
            caption = html.escape(reply.text[: MessageLimit.CAPTION_LENGTH]) or None
            sent = await self.bot.send_photo(chat_id, held, caption=caption, parse_mode=ParseMode.HTML,
                                             reply_markup=markup)
            return str(sent.message_id)
        pieces = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
        for number, piece in enumerate(pieces, start=1):
            sent = await self.bot.send_message(
                chat_id,
                html.escape(piece),
                parse_mode=ParseMode.HTML,
                reply_markup=markup if number == len(pieces) else None,
                link_preview_options=NO_PREVIEW,
            )
        return str(sent.message_id)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
