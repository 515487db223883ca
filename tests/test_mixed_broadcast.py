"""Issue 6's last Done criterion: a broadcast to residents on Telegram and on WhatsApp, some silent for
more than 24 hours, reaches each person once on the channel they used last: Telegram and WhatsApp
people inside the window get the text, those outside get the broadcast template when one is configured,
and are tallied as "without a WhatsApp template" when none is."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from bot.settings import Settings
from storage import broadcasts, outbox
from storage.models import Identity, Person
from storage.places import get_or_create_rw
from storage.types import utcnow
from tests.conftest import count
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.transcripts import whatsapp_settings

KEBON_MELATI = "31.71.07.1005"
TEXT = "Penimbangan Sabtu ini dimulai pukul 08.00 di balai warga."
TEMPLATE = "HX" + "c" * 32


@pytest.mark.parametrize("template", [True, False])
async def test_a_mixed_broadcast_reaches_each_person_once_with_templates_where_configured(
    template: bool, telegram_settings: Settings, fake: FakeBotAPI, twilio_api: FakeTwilioAPI
) -> None:
    settings = whatsapp_settings(telegram_settings, twilio_api).model_copy(
        update={"whatsapp_templates": {"broadcast": TEMPLATE} if template else {}})
    app = App(settings)
    now = utcnow()
    people = {  # name: [(channel, address, silent for)], the last listed used last
        "tele": [("telegram", "5001", timedelta(hours=30))],
        "wa_open": [("whatsapp", "+6281250000001", timedelta(hours=2))],
        "wa_closed": [("whatsapp", "+6281250000002", timedelta(days=3))],
        "both": [("telegram", "5002", timedelta(days=5)), ("whatsapp", "+6281250000003", timedelta(days=2))],
    }
    async with app.db.transaction() as session:
        rw = await get_or_create_rw(session, KEBON_MELATI, 12)
        for name, identities in people.items():
            person = Person(locale="id", name=name, rw_id=rw.id, consent_at=now, consent_version="2026-11")
            session.add(person)
            for channel, address, silent in identities:
                session.add(Identity(person=person, key=f"{channel}:{address}", channel=channel, address=address,
                                     last_inbound_at=now - silent))
        await session.flush()
        sent = await broadcasts.create(session, None, broadcasts.segment_rws([rw.id]), TEXT, now)
        assert await broadcasts.enqueue(session, sent, now) == 4
    bot = app.telegram()
    await bot.initialize()
    try:
        sender = app.sender(app.transports(bot))
        while await sender.drain_once():
            pass
    finally:
        await bot.shutdown()

    assert [call.text for call in fake.sent_to(5001)] == [TEXT]
    assert fake.sent_to(5002) == []  # "both" used WhatsApp last
    [inside] = twilio_api.sent_to("whatsapp:+6281250000001")
    assert (inside.body, inside.content_sid) == (TEXT, None)
    closed = twilio_api.sent_to("whatsapp:+6281250000002") + twilio_api.sent_to("whatsapp:+6281250000003")
    async with app.db.transaction() as session:
        tally = await broadcasts.tally(session, await broadcasts.get(session, sent.id))
    if template:
        assert [(m.content_sid, m.content_variables) for m in closed] == [(TEMPLATE, {"1": TEXT})] * 2
        assert (tally.sent, tally.needs_template) == (4, 0)
    else:
        assert closed == []
        assert (tally.sent, tally.needs_template) == (2, 2)
    assert await count(app.db, "SELECT count(*) FROM outbox WHERE status = :s", s=outbox.PENDING) == 0
    await app.db.dispose()
