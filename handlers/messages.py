"""The neutral message model: what adapters turn platform updates into, and what flows answer."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.types import utcnow


class Kind(StrEnum):
    """What an inbound message carries."""

    TEXT = "text"
    CHOICE = "choice"
    PHOTO = "photo"
    LOCATION = "location"
    CONTACT = "contact"
    STICKER = "sticker"
    VOICE = "voice"
    OTHER = "other"


@dataclass(frozen=True)
class Contact:
    phone: str
    user_id: str | None = None  # the platform user the card belongs to, when known
    own: bool = False  # the adapter vouches it is the sender's own card (Telegram: its user_id is the sender's)


@dataclass(frozen=True)
class Inbound:
    """One message from a person, as every channel delivers it."""

    channel: str
    bot: str
    platform_id: str
    sender: str  # identity key: telegram:<id>, whatsapp:+62…, local:<name>
    address: str  # where replies go (a chat id, a phone number, a terminal user)
    kind: Kind
    text: str = ""
    choice: str | None = None
    photo: str | None = None
    location: tuple[float, float] | None = None
    contact: Contact | None = None
    private: bool = True
    phone: str | None = None  # the sender's own number, as the platform vouches for it (WhatsApp: the one they write from)
    contact_button: bool = False  # the platform can share the sender's own contact card with a button (Telegram)
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Choice:
    """An option offered to the person: a key the flow understands and the label they see."""

    key: str
    label: str


# A choice that asks for the person's own number: on Telegram a button that shares their contact card (the
# answer is a CONTACT message); elsewhere an ordinary choice.
CONTACT_REQUEST = "contact:request"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Template:
    """An approved WhatsApp template (Twilio ContentSid) and its variables."""

    sid: str
    variables: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """One outgoing message: text with optional choices, image or document."""

    text: str
    choices: tuple[Choice, ...] = ()
    image: Attachment | None = None
    document: Attachment | None = None
    forget: bool = False  # delete the outbox row once sent (the goodbye after an erasure)
    expires_at: datetime | None = None  # not worth sending after this (a reminder once weighing began)
    locale: str | None = None  # the reader's language, for what a channel adds around the choices
    kind: str | None = None  # what the bot starts: broadcast | reminder | notification (None: a reply)
    template: Template | None = None  # set at send time when WhatsApp's 24-hour window is closed
    photo_ref: str | None = None  # a photo the platform already holds, `<channel>:<file id or media URL>`
    row_id: int | None = None  # the outbox row it is sent from (set by the sender, never stored)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text}
        if self.forget:
            body["forget"] = True
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at.isoformat()
        if self.choices:
            body["choices"] = [[c.key, c.label] for c in self.choices]
        if self.locale:
            body["locale"] = self.locale
        if self.kind:
            body["kind"] = self.kind
        if self.photo_ref:
            body["photo_ref"] = self.photo_ref
        for name in ("image", "document"):
            item: Attachment | None = getattr(self, name)
            if item is not None:
                body[name] = {"filename": item.filename, "content": base64.b64encode(item.content).decode()}
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Reply:
        def attachment(name: str) -> Attachment | None:
            item = body.get(name)
            return Attachment(item["filename"], base64.b64decode(item["content"])) if item else None

        return cls(
            text=body.get("text", ""),
            choices=tuple(Choice(key, label) for key, label in body.get("choices", [])),
            image=attachment("image"),
            document=attachment("document"),
            forget=bool(body.get("forget")),
            expires_at=datetime.fromisoformat(body["expires_at"]) if body.get("expires_at") else None,
            locale=body.get("locale"),
            kind=body.get("kind"),
            photo_ref=body.get("photo_ref"),
        )

    def held_photo(self, channel: str) -> str | None:
        """The platform reference of `photo_ref` when it belongs to this channel (another platform's
        file cannot be sent here)."""
        prefix = f"{channel}:"
        return self.photo_ref.removeprefix(prefix) if self.photo_ref and self.photo_ref.startswith(prefix) else None
