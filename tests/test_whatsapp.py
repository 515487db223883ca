"""WhatsApp through Twilio: signed webhooks in (the ASGI app), replies out through the twilio client to
a fake Twilio REST API on localhost; the same flows as every other channel."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.app import App
from bot.channels.errors import Throttled, Transient, Unreachable
from bot.channels.text import split_text
from bot.channels.whatsapp import MAX_BODY, make_client
from bot.channels.whatsapp.inbound import to_inbound
from bot.channels.whatsapp.transport import WhatsAppTransport, render
from bot.limiter import MemoryLimiter
from bot.sender import Sender
from bot.settings import Settings
from handlers.messages import Attachment, Choice, Kind, Reply
from handlers.text.i18n import translate
from storage import outbox
from storage.models import Identity, Outbox, Person
from storage.outbox import Priority
from storage.types import utcnow
from tests.conftest import count
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioAPI

SID, TOKEN, OURS = ACCOUNT_SID, AUTH_TOKEN, "+6281100000000"  # the shared fake's (tests/conftest.py)
PUBLIC = "https://ksbb.example.org"
HANG_GUARD = 30  # seconds: only stops a hung test, never a measure of speed
_sids = itertools.count(1)


@pytest.fixture
async def whatsapp(settings: Settings, twilio_api: FakeTwilioAPI) -> AsyncIterator[tuple[httpx.AsyncClient, App]]:
    app = App(settings.model_copy(update={
        "twilio_account_sid": SID, "twilio_auth_token": SecretStr(TOKEN), "twilio_whatsapp_from": OURS,
        "twilio_api_base_url": twilio_api.base_url, "public_base_url": PUBLIC,
    }))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.web(None)), base_url="http://internal") as client:
        yield client, app
    await app.db.dispose()


def form(number: str, body: str = "", **extra: str) -> dict[str, str]:
    """An inbound message as Twilio posts it."""
    return {"MessageSid": f"SM{next(_sids):032x}", "AccountSid": SID, "From": f"whatsapp:{number}",
            "To": f"whatsapp:{OURS}", "Body": body, "NumMedia": "0", **extra}


def signed(params: dict[str, str], path: str = "/whatsapp", token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC + path, params)}


async def post(client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/whatsapp", data=params, headers=signed(params) if headers is None else headers)


async def test_the_welcome_and_language_choice_work_by_number_on_whatsapp(whatsapp, twilio_api: FakeTwilioAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    number = "+6281234500001"
    response = await post(client, form(number, "halo"))
    assert response.status_code == 200 and "<Response" in response.text
    await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) == 2)
    welcome, ask = [m.body for m in twilio_api.sent_to(f"whatsapp:{number}")]
    assert welcome == translate("id", "start.welcome")
    assert ask == translate("id", "language.ask") + "\n\nBalas dengan angka:\n1. Bahasa Indonesia\n2. English"
    await post(client, form(number, "2"))
    await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) == 4)
    assert twilio_api.sent_to(f"whatsapp:{number}")[2].body == translate("en", "language.set")
    menu = twilio_api.sent_to(f"whatsapp:{number}")[3].body
    assert menu.startswith(translate("en", "menu.ask") + "\n\nReply with a number:\n1. ")


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "Zm9yZ2Vk"}])
async def test_unsigned_and_forged_requests_are_refused(whatsapp, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    assert (await post(client, form("+6281234500002", "halo"), headers)).status_code == 403
    other_account = form("+6281234500002", "halo")
    assert (await post(client, other_account, signed(other_account, token="bukan-token-kami"))).status_code == 403
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == 0


async def test_a_replayed_message_sid_is_handled_once(whatsapp, twilio_api: FakeTwilioAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    params = form("+6281234500003", "halo")
    for _ in range(3):
        assert (await post(client, params)).status_code == 200
    assert await count(app.db, "SELECT count(*) FROM inbound_record") == 1
    assert await count(app.db, "SELECT count(*) FROM outbox") == 2


async def test_oversized_and_incomplete_forms_are_refused(whatsapp) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    huge = form("+6281234500004", "x" * 1_000_001)
    assert (await post(client, huge)).status_code == 413
    missing = {"Body": "halo"}
    assert (await post(client, missing)).status_code == 400


async def report(client: httpx.AsyncClient, sid: str, status: str, error: str | None = None) -> httpx.Response:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": SID, **({"ErrorCode": error} if error else {})}
    return await client.post("/whatsapp/status", data=params, headers=signed(params, "/whatsapp/status"))


async def delivery(app: App, sid: str) -> tuple[str | None, str | None]:
    async with app.db.transaction() as session:
        row = (await session.execute(select(Outbox).where(Outbox.platform_message_id == sid))).scalar_one()
        return row.delivery_status, row.delivery_error


async def test_delivery_reports_move_each_message_forward_and_never_back(whatsapp, twilio_api: FakeTwilioAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    number = "+6281234500009"
    await post(client, form(number, "halo"))
    await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) == 2)
    first, second = twilio_api.sent_to(f"whatsapp:{number}")
    assert first.status_callback == PUBLIC + "/whatsapp/status"
    for status in ("sent", "read", "delivered", "sent"):
        assert (await report(client, first.sid, status)).status_code == 204
    assert await delivery(app, first.sid) == ("read", None)
    await report(client, second.sid, "undelivered", "63016")
    await report(client, second.sid, "delivered")
    assert await delivery(app, second.sid) == ("undelivered", "63016")
    assert (await report(client, "SM" + "f" * 32, "delivered")).status_code == 204  # not ours: nothing to change


async def test_unsigned_or_incomplete_delivery_reports_are_refused(whatsapp) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    assert (await client.post("/whatsapp/status", data=params)).status_code == 403
    assert (await client.post("/whatsapp/status", data=params, headers=signed(params))).status_code == 403  # other URL
    incomplete = {"MessageSid": "SM" + "a" * 32}
    response = await client.post("/whatsapp/status", data=incomplete, headers=signed(incomplete, "/whatsapp/status"))
    assert response.status_code == 400


async def test_media_without_a_caption_gets_a_clear_answer_and_the_step_stays(whatsapp, twilio_api: FakeTwilioAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    number = "+6281234500005"
    await post(client, form(number, "halo"))
    await post(client, form(number, "", NumMedia="1", MediaUrl0="https://api.twilio.com/media/ME1",
                            MediaContentType0="image/jpeg"))
    await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) == 4)
    assert twilio_api.sent_to(f"whatsapp:{number}")[2].body == translate("id", "input.unsupported")


@pytest.mark.parametrize(
    ("fields", "kind", "expected"),
    [
        ({"Body": "Lapor"}, Kind.TEXT, {"text": "Lapor"}),
        ({"NumMedia": "1", "MediaUrl0": "https://m/1", "MediaContentType0": "image/jpeg", "Body": "kardus"},
         Kind.PHOTO, {"photo": "https://m/1", "text": "kardus"}),
        ({"Latitude": "-6.197", "Longitude": "106.816", "Body": ""}, Kind.LOCATION, {"location": (-6.197, 106.816)}),
        ({"NumMedia": "1", "MediaContentType0": "audio/ogg", "Body": ""}, Kind.VOICE, {}),
        ({"Body": ""}, Kind.OTHER, {}),
    ],
)
def test_twilio_forms_become_neutral_messages(fields: dict[str, str], kind: Kind, expected: dict[str, object]) -> None:
    message = to_inbound({**form("+6281234500006"), **fields})
    assert message is not None
    assert (message.channel, message.sender, message.address, message.bot) == (
        "whatsapp", "whatsapp:+6281234500006", "+6281234500006", OURS)
    assert message.kind is kind
    for name, value in expected.items():
        assert getattr(message, name) == value


async def test_platform_errors_map_to_the_shared_kinds_and_the_sender_acts_on_them(
    db, twilio_api: FakeTwilioAPI  # type: ignore[no-untyped-def]
) -> None:
    transport = WhatsAppTransport(make_client(SID, TOKEN, twilio_api.base_url), OURS)
    twilio_api.opted_out("+6281234500007")
    with pytest.raises(Unreachable):
        await transport.send("+6281234500007", Reply("halo"))
    twilio_api.fail_next(1, status=503)
    with pytest.raises(Transient):
        await transport.send("+6281234500008", Reply("halo"))
    twilio_api.messages_per_second = 1
    await transport.send("+6281234500009", Reply("satu"))
    with pytest.raises(Throttled):
        await transport.send("+6281234500009", Reply("dua"))
    twilio_api.messages_per_second = 80
    async with db.transaction() as session:
        session.add(Identity(key="whatsapp:+6281234500007", channel="whatsapp", address="+6281234500007",
                             person=Person(locale="id")))
        session.add(outbox.new_row(channel="whatsapp", address="+6281234500007", body=Reply("berita").to_body(),
                                   priority=Priority.BULK, now=utcnow()))
    await Sender(db, [transport], MemoryLimiter({}), "test").drain_once()
    assert await count(db, "SELECT count(*) FROM outbox WHERE status = 'unreachable'") == 1
    assert await count(db, "SELECT count(*) FROM channel_identity WHERE unreachable_at IS NOT NULL") == 1


def test_long_text_is_split_cleanly_under_whatsapps_limit() -> None:
    text = ("Kalimat yang cukup panjang untuk diulang. " * 100).strip()
    pieces = split_text(render(Reply(text)), MAX_BODY)
    assert len(pieces) == 3 and all(len(piece) <= MAX_BODY for piece in pieces)
    assert " ".join(pieces) == text


async def test_a_retry_override_fragment_on_the_webhook_url_keeps_signatures_valid(settings: Settings, twilio_api: FakeTwilioAPI) -> None:
    """With `…/whatsapp#rc=3&rp=all` configured in Twilio, a request signed over that URL (or the bare
    one) is accepted; one signed with another token still is not."""
    app = App(settings.model_copy(update={
        "twilio_account_sid": SID, "twilio_auth_token": SecretStr(TOKEN), "twilio_whatsapp_from": OURS,
        "twilio_api_base_url": twilio_api.base_url, "public_base_url": PUBLIC, "twilio_webhook_overrides": "rc=3&rp=all",
    }))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.web(None)), base_url="http://internal") as client:
        with_fragment = form("+6281234500010", "halo")
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/whatsapp#rc=3&rp=all", with_fragment)
        assert (await post(client, with_fragment, {"X-Twilio-Signature": signature})).status_code == 200
        assert (await post(client, form("+6281234500010", "halo lagi"))).status_code == 200
        forged = form("+6281234500010", "palsu")
        bad = RequestValidator("bukan-token-kami").compute_signature(PUBLIC + "/whatsapp#rc=3&rp=all", forged)
        assert (await post(client, forged, {"X-Twilio-Signature": bad})).status_code == 403
    await app.db.dispose()


async def test_a_photo_held_by_twilio_goes_as_media_and_another_platforms_photo_as_text(twilio_api: FakeTwilioAPI) -> None:
    transport = WhatsAppTransport(make_client(SID, TOKEN, twilio_api.base_url), OURS)
    media = "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1"
    await transport.send("+6281234500011", Reply("Gapura sudah berdiri.", photo_ref=f"whatsapp:{media}"))
    await transport.send("+6281234500011", Reply("Mural selesai.", photo_ref="telegram:AgACAgIAAxkBAAI"))
    with_photo, text_only = twilio_api.sent_to("whatsapp:+6281234500011")
    assert (with_photo.body, with_photo.media_url) == ("Gapura sudah berdiri.", media)
    assert (text_only.body, text_only.media_url) == ("Mural selesai.", None)


async def test_a_document_goes_as_a_signed_media_url_that_only_twilio_can_fetch(whatsapp, twilio_api: FakeTwilioAPI) -> None:  # type: ignore[no-untyped-def]
    client, app = whatsapp
    number, pdf = "+6281234500012", b"%PDF-1.4 surat komitmen"
    async with app.db.transaction() as session:
        session.add(Identity(key=f"whatsapp:{number}", channel="whatsapp", address=number, person=Person(locale="id")))
        session.add(outbox.new_row(channel="whatsapp", address=number, priority=Priority.NOTIFY, now=utcnow(),
                                   body=Reply("Surat komitmen terlampir.", document=Attachment("KSBB-1.pdf", pdf)).to_body()))
    await app.sender([app.whatsapp()]).drain_once()
    [sent] = twilio_api.sent_to(f"whatsapp:{number}")
    assert sent.body == "Surat komitmen terlampir." and sent.media_url.startswith(PUBLIC + "/whatsapp/media/")
    path = sent.media_url.removeprefix(PUBLIC)
    fetched = await client.get(path)
    assert (fetched.status_code, fetched.content, fetched.headers["content-type"]) == (200, pdf, "application/pdf")
    assert (await client.get(path.replace("sig=", "sig=0"))).status_code == 403
    assert (await client.get(path.replace("KSBB-1.pdf", "lain.pdf"))).status_code == 403


async def test_choices_go_as_quick_reply_buttons_when_a_content_template_fits(twilio_api: FakeTwilioAPI) -> None:
    transport = WhatsAppTransport(make_client(SID, TOKEN, twilio_api.base_url), OURS, quick_replies={"2": "HX" + "q" * 32})
    buttons = Reply("Apakah Bapak/Ibu setuju?", choices=(Choice("consent:yes", "Setuju"), Choice("consent:no", "Tidak")))
    await transport.send("+6281234500013", buttons)
    long_label = Reply("Pilih paket", choices=(Choice("a", "Paket Penataan RW Utama"), Choice("b", "Paket Bersama")))
    await transport.send("+6281234500013", long_label)
    three = Reply("Pilih", choices=(Choice("a", "A"), Choice("b", "B"), Choice("c", "C")))
    await transport.send("+6281234500013", three)
    quick, numbered, no_template = twilio_api.sent_to("whatsapp:+6281234500013")
    assert quick.content_sid == "HX" + "q" * 32
    assert quick.content_variables == {"1": "Apakah Bapak/Ibu setuju?", "2": "Setuju", "3": "consent:yes",
                                       "4": "Tidak", "5": "consent:no"}
    assert numbered.content_sid is None and "1. Paket Penataan RW Utama" in numbered.body  # a title over 20 characters
    assert no_template.content_sid is None and "3. C" in no_template.body


async def test_a_quick_reply_button_press_answers_the_step(settings: Settings, twilio_api: FakeTwilioAPI) -> None:
    app = App(settings.model_copy(update={
        "twilio_account_sid": SID, "twilio_auth_token": SecretStr(TOKEN), "twilio_whatsapp_from": OURS,
        "twilio_api_base_url": twilio_api.base_url, "public_base_url": PUBLIC,
        "whatsapp_quick_replies": {"2": "HX" + "q" * 32},
    }))
    number = "+6281234500014"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.web(None)), base_url="http://internal") as client:
        await post(client, form(number, "halo"))
        await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) == 2)
        ask = twilio_api.sent_to(f"whatsapp:{number}")[1]
        assert ask.content_variables["1"] == translate("id", "language.ask") and ask.content_variables["5"] == "lang:en"
        await post(client, form(number, "English", ButtonText="English", ButtonPayload="lang:en"))
        await twilio_api.wait_for_async(lambda: len(twilio_api.sent_to(f"whatsapp:{number}")) >= 3)
        assert twilio_api.sent_to(f"whatsapp:{number}")[2].body == translate("en", "language.set")
    await app.db.dispose()


async def test_a_burst_goes_out_at_once_through_the_transports_own_threads_and_connections(
    twilio_api: FakeTwilioAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """As many sends as the transport has workers overlap fully: none waits for asyncio's default executor
    (a few threads on a small machine) and every connection is kept for the next burst (requests keeps 10
    per host unless told more, and drops the others). The fake answers no send until all 24 are in
    flight at once: a transport with fewer threads is never answered, and the hang guard fails it."""
    twilio_api.hold_until = 24
    transport = WhatsAppTransport(make_client(SID, TOKEN, twilio_api.base_url), OURS, workers=24)
    try:
        for _ in range(2):
            with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
                sends = (transport.send(f"+62812345{n:05}", Reply("halo")) for n in range(24))
                await asyncio.wait_for(asyncio.gather(*sends), HANG_GUARD)
    finally:
        twilio_api.hold_until = None
        transport.close()
    assert twilio_api.max_in_flight == 24
    assert len(twilio_api.delivered) == 48
    assert not [record for record in caplog.records if "pool is full" in record.getMessage()]
