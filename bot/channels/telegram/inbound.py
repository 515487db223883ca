"""Telegram updates → neutral inbound messages."""

from __future__ import annotations

from telegram import Chat, Message, Update

from bot.channels.telegram import CHANNEL
from handlers.messages import Contact, Inbound, Kind

ALLOWED_UPDATES = ["message", "callback_query"]


def to_inbound(update: Update, bot_id: str) -> Inbound | None:
    """The neutral message for an update, or None for updates the bot does not answer."""
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        return Inbound(
            channel=CHANNEL,
            bot=bot_id,
            platform_id=str(update.update_id),
            sender=f"{CHANNEL}:{query.from_user.id}",
            address=str(chat.id if chat else query.from_user.id),
            kind=Kind.CHOICE,
            choice=query.data,
            private=chat is None or chat.type == Chat.PRIVATE,
            contact_button=True,
        )
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    kind, fields = _content(message)
    return Inbound(
        channel=CHANNEL,
        bot=bot_id,
        platform_id=str(update.update_id),
        sender=f"{CHANNEL}:{message.from_user.id}",
        address=str(message.chat.id),
        kind=kind,
        private=message.chat.type == Chat.PRIVATE,
        contact_button=True,
        **fields,
    )


def _content(message: Message) -> tuple[Kind, dict[str, object]]:
    if message.text is not None:
        return Kind.TEXT, {"text": message.text}
    if message.photo:
        return Kind.PHOTO, {"photo": message.photo[-1].file_id, "text": message.caption or ""}
    if message.location is not None:
        return Kind.LOCATION, {"location": (message.location.latitude, message.location.longitude)}
    if message.contact is not None:
        user_id = message.contact.user_id
        own = user_id is not None and message.from_user is not None and user_id == message.from_user.id
        contact = Contact(message.contact.phone_number, str(user_id) if user_id else None, own=own)
        return Kind.CONTACT, {"contact": contact}
    if message.sticker is not None:
        return Kind.STICKER, {}
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return Kind.VOICE, {}
    return Kind.OTHER, {"text": message.caption or ""}
