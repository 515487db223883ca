"""WhatsApp's 24-hour window at send time, against the fake Twilio API: a message the bot starts to
someone silent for over 24 hours goes as the template configured for its kind, or is not sent and
counted; a 63016 refusal is handled the same way; 21610 marks the person opted out; the day's cap
of business-initiated conversations holds the rest back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.channels.whatsapp import make_client
from bot.channels.whatsapp.transport import WhatsAppTransport
from bot.channels.whatsapp.window import Window, template_text
from bot.limiter import MemoryLimiter
from bot.sender import Sender
from handlers.messages import Reply
from storage import outbox
from storage.db import Database
from storage.models import Identity, Outbox, Person
from storage.outbox import Priority
from storage.types import utcnow
from tests.fakes.twilio_api import FakeTwilioAPI

OURS = "+6281100000001"
TEMPLATES = {"broadcast": "HX" + "b" * 32, "notification": "HX" + "n" * 32}


def sender(db: Database, twilio_api: FakeTwilioAPI, templates: dict[str, str] = TEMPLATES, cap: int = 1000) -> Sender:
    transport = WhatsAppTransport(make_client(twilio_api.account_sid, twilio_api.auth_token, twilio_api.base_url), OURS)
    return Sender(db, [transport], MemoryLimiter({}), "test", gates={"whatsapp": Window(db, templates, cap)})


async def queue(db: Database, number: str, silent_for: timedelta, kind: str | None = outbox.NOTIFICATION,
                priority: Priority = Priority.NOTIFY, text: str = "Setoran Bapak/Ibu sudah diverifikasi.\nTerima kasih.") -> int:
    """A person last heard from `silent_for` ago, and one message the bot starts to them."""
    now = utcnow()
    async with db.transaction() as session:
        person = Person(locale="id")
        session.add(Identity(key=f"whatsapp:{number}", channel="whatsapp", address=number, person=person,
                             last_inbound_at=now - silent_for))
        await session.flush()
        row = outbox.new_row(channel="whatsapp", address=number, body=Reply(text, kind=kind).to_body(),
                             priority=priority, now=now, person_id=person.id)
        session.add(row)
        await session.flush()
        return row.id


async def row(db: Database, row_id: int) -> Outbox:
    async with db.transaction() as session:
        return (await session.execute(select(Outbox).where(Outbox.id == row_id))).scalar_one()


async def test_inside_the_window_the_message_goes_as_session_text(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560001", timedelta(hours=23))
    await sender(db, twilio_api).drain_once()
    [sent] = twilio_api.sent_to("whatsapp:+6281234560001")
    assert sent.body.startswith("Setoran") and sent.content_sid is None
    assert (await row(db, row_id)).template_sid is None


async def test_outside_the_window_the_template_for_its_kind_carries_the_text(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560002", timedelta(hours=25))
    await sender(db, twilio_api).drain_once()
    [sent] = twilio_api.sent_to("whatsapp:+6281234560002")
    assert sent.content_sid == TEMPLATES["notification"]
    assert sent.content_variables == {"1": "Setoran Bapak/Ibu sudah diverifikasi. Terima kasih."}
    found = await row(db, row_id)
    assert (found.status, found.template_sid) == (outbox.SENT, TEMPLATES["notification"])


async def test_without_a_template_for_its_kind_nothing_is_sent_and_it_is_counted(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560003", timedelta(days=3), kind=outbox.REMINDER, priority=Priority.BULK)
    await sender(db, twilio_api).drain_once()
    assert twilio_api.sent_to("whatsapp:+6281234560003", include_failed=True) == []
    assert (await row(db, row_id)).status == outbox.NEEDS_TEMPLATE


async def test_a_63016_refusal_is_retried_once_as_the_template(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560004", timedelta(hours=1))  # our clock says open; WhatsApp says closed
    twilio_api.outside_window("+6281234560004")
    await sender(db, twilio_api).drain_once()
    refused, sent = twilio_api.sent_to("whatsapp:+6281234560004", include_failed=True)
    assert refused.error["code"] == 63016 and sent.content_sid == TEMPLATES["notification"]
    assert (await row(db, row_id)).status == outbox.SENT


async def test_replies_are_never_turned_into_templates(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560005", timedelta(hours=30), kind=None, priority=Priority.REPLY)
    await sender(db, twilio_api).drain_once()
    [sent] = twilio_api.sent_to("whatsapp:+6281234560005")
    assert sent.content_sid is None and (await row(db, row_id)).status == outbox.SENT


async def test_a_21610_refusal_marks_the_person_opted_out(db: Database, twilio_api: FakeTwilioAPI) -> None:
    row_id = await queue(db, "+6281234560006", timedelta(hours=1))
    twilio_api.opted_out("+6281234560006")
    await sender(db, twilio_api).drain_once()
    async with db.transaction() as session:
        person = await session.get(Person, (await row(db, row_id)).person_id)
        assert person.opted_out_at is not None
    assert (await row(db, row_id)).status == outbox.UNREACHABLE


async def test_the_daily_cap_of_new_conversations_holds_the_rest_back(db: Database, twilio_api: FakeTwilioAPI) -> None:
    first = await queue(db, "+6281234560007", timedelta(days=2))
    second = await queue(db, "+6281234560008", timedelta(days=2))
    await sender(db, twilio_api, cap=1).drain_once()
    assert len(twilio_api.sent) == 1
    assert {(await row(db, first)).status, (await row(db, second)).status} == {outbox.SENT, outbox.PENDING}
    held = await row(db, second) if (await row(db, second)).status == outbox.PENDING else await row(db, first)
    assert held.not_before > utcnow() + timedelta(minutes=20) and held.error == "daily cap reached"


def test_a_template_variable_is_one_line_within_whatsapps_limit() -> None:
    assert template_text("Satu\n\nDua   tiga") == "Satu Dua tiga"
    assert len(template_text("kata " * 400)) == 1024
