"""Recorded Telegram updates → the neutral Inbound the flows see (or None for updates the bot ignores)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram.inbound import to_inbound
from handlers.messages import Contact, Kind
from tests.channels.telegram.conftest import TOKEN

PAYLOADS = Path(__file__).parent / "payloads"
BOT_ID = "7000000001"
SITI = "812345678"  # from.id and private chat id in the recorded payloads
GROUP = "-1001987654321"


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


LONG_TEXT = load("long_text_emoji.json")["message"]["text"]


def expected(update_id: int, kind: Kind, **fields: Any) -> dict[str, Any]:
    """Every Inbound field but received_at: Siti's private chat unless told otherwise."""
    values: dict[str, Any] = {
        "channel": "telegram",
        "bot": BOT_ID,
        "platform_id": str(update_id),
        "sender": f"telegram:{SITI}",
        "address": SITI,
        "kind": kind,
        "text": "",
        "choice": None,
        "photo": None,
        "location": None,
        "contact": None,
        "private": True,
        "phone": None,
        "contact_button": True,  # Telegram can share the sender's own card with a button
    }
    values.update(fields)
    return values


CASES: dict[str, dict[str, Any] | None] = {
    "text_private.json": expected(700000101, Kind.TEXT, text="Halo, saya mau tanya jadwal penimbangan"),
    "start_deep_link.json": expected(700000102, Kind.TEXT, text="/start inv_abc123"),
    "callback_query.json": expected(700000103, Kind.CHOICE, choice="lang:en"),
    "photo_caption.json": expected(
        700000104,
        Kind.PHOTO,
        # the largest size, so a coordinator sees the photo sharp
        photo="AgACAgUAAxkBAAIBPWZpX3Kz8c9rYV1bL0f4n2QwAAHxAAJ7vDEbK1xQV0fn8yT0gZ1mAQADAgADeQADNQQ",
        text="Sampah sudah saya pilah: plastik & kardus",
    ),
    "sticker.json": expected(700000105, Kind.STICKER),
    "voice.json": expected(700000106, Kind.VOICE),
    "location.json": expected(700000107, Kind.LOCATION, location=(-6.186486, 106.834091)),
    "contact_own.json": expected(700000108, Kind.CONTACT, contact=Contact("6281234567890", SITI, own=True)),
    "contact_other.json": expected(700000109, Kind.CONTACT, contact=Contact("+6281398765432", "798765432")),
    "contact_not_on_telegram.json": expected(700000110, Kind.CONTACT, contact=Contact("+6285711112222", None)),
    "group_message.json": expected(
        700000111, Kind.TEXT, address=GROUP, private=False, text="@ksbb_test_bot kapan jadwal penimbangan?"
    ),
    "edited_message.json": None,  # an edit is not a new answer
    "message_from_bot.json": None,  # bots in a group never start a conversation
    "long_text_emoji.json": expected(700000114, Kind.TEXT, text=LONG_TEXT),
}


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot(TOKEN)


@pytest.mark.parametrize(("name", "want"), CASES.items(), ids=list(CASES))
def test_recorded_update_becomes_inbound(name: str, want: dict[str, Any] | None, bot: Bot) -> None:
    update = Update.de_json(load(name), bot)
    inbound = to_inbound(update, BOT_ID)
    if want is None:
        assert inbound is None
    else:
        assert inbound is not None
        got = asdict(inbound)
        del got["received_at"]
        # asdict turns the Contact into a dict; compare like with like
        want = {**want, "contact": asdict(want["contact"]) if want["contact"] else None}
        assert got == want


def test_every_recorded_payload_is_in_the_table() -> None:
    assert sorted(path.name for path in PAYLOADS.glob("*.json")) == sorted(CASES)


def test_own_contact_is_told_apart_from_someone_elses(bot: Bot) -> None:
    """The flow joins identities only on a card whose user id is the sender's own (DESIGN: people)."""
    own, other, unknown = (
        to_inbound(Update.de_json(load(name), bot), BOT_ID)
        for name in ("contact_own.json", "contact_other.json", "contact_not_on_telegram.json")
    )
    assert own and own.contact and own.contact.own and f"telegram:{own.contact.user_id}" == own.sender
    for inbound in (other, unknown):
        assert inbound and inbound.contact and not inbound.contact.own
        assert f"telegram:{inbound.contact.user_id}" != inbound.sender


def test_long_text_with_emoji_arrives_whole(bot: Bot) -> None:
    inbound = to_inbound(Update.de_json(load("long_text_emoji.json"), bot), BOT_ID)
    assert inbound is not None
    assert len(inbound.text) == 4000 and inbound.text.endswith("😊") and "♻️" in inbound.text
