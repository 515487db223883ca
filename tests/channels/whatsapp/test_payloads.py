"""Twilio's WhatsApp webhook payloads (tests/channels/whatsapp/payloads) become neutral messages (the
status callback payload is used by the delivery-report tests' shape, not by the engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.whatsapp.inbound import to_inbound
from handlers.messages import Kind

PAYLOADS = Path(__file__).parent / "payloads"
SENDER = "+6281234567890"
EXPECTED = {
    "text": (Kind.TEXT, {"text": "Lapor sampah"}),
    "image": (Kind.PHOTO, {"text": "kardus 2 kilo", "photo": "https://api.twilio.com/2010-04-01/Accounts/"
                           "AC00000000000000000000000000000000/Messages/MM1b2c3d4e5f60718293a4b5c6d7e8f90a/Media/"
                           "ME2c3d4e5f60718293a4b5c6d7e8f90a1b"}),
    "location": (Kind.LOCATION, {"location": (-6.1979, 106.8156)}),
    "voice": (Kind.VOICE, {}),
    "button": (Kind.CHOICE, {"choice": "consent:yes", "text": "Setuju"}),
}


def payload(name: str) -> dict[str, str]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_recorded_inbound_payload_becomes_a_neutral_message(name: str) -> None:
    kind, fields = EXPECTED[name]
    message = to_inbound(payload(name))
    assert message is not None
    assert (message.channel, message.sender, message.address, message.bot, message.platform_id) == (
        "whatsapp", f"whatsapp:{SENDER}", SENDER, "+14155238886", payload(name)["MessageSid"])
    assert message.kind is kind
    assert message.phone == SENDER and not message.contact_button  # the number WhatsApp vouches for
    for field, value in fields.items():
        assert getattr(message, field) == value


def test_every_payload_file_is_checked() -> None:
    assert {path.stem for path in PAYLOADS.glob("*.json")} == {*EXPECTED, "status_delivered"}

