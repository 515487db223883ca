"""No phone number, bot token or message text reaches the logs (DESIGN: Logs and personal data).

A Telegram conversation runs through the fake Bot API with logging set up as in production
(`bot.logs.configure("DEBUG")`), while caplog sees every record at DEBUG; the conversation shares the
person's own phone number, types another, hits a broken step (the apology path logs a traceback) and
meets failing Bot API calls."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.app import App
from bot.logs import QUIET, MaskingFilter, configure, mask, pseudonym
from handlers import STEPS, menu
from handlers.dialog.machine import MENU, TEXT, Context, Step
from handlers.messages import Inbound
from handlers.text.i18n import translate
from tests.channels.telegram import conftest as telegram
from tests.channels.telegram.conftest import TOKEN, Chat
from tests.fakes.telegram_api import FakeBotAPI
from tests.transcripts import Tap

USER = 812345678
OWN_PHONE = "+6281234567890"
TYPED = "nomor saya 081234567890, tolong dicatat ya"
BROKEN_INPUT = "setor plastik PET 3,5 kg dari Bu Siti di RT 02"
# Everything that must never be logged: the token, the number in every form, what the person typed,
# and the raw Telegram user id (logs carry pseudonyms).
SECRETS = [
    TOKEN,
    TOKEN.split(":")[1],
    OWN_PHONE,
    OWN_PHONE[1:],
    "081234567890",
    "81234567890",
    TYPED,
    BROKEN_INPUT,
    "3,5 kg dari Bu Siti",
    f"telegram:{USER}",
]

# The Telegram fixtures (a fake Bot API, settings pointing at it, an App), shared with tests/channels/telegram.
fake_api, fake, telegram_settings, app = telegram.fake_api, telegram.fake, telegram.telegram_settings, telegram.app

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@contextmanager
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """`configure("DEBUG")` as the bot runs it, with pytest's handlers (caplog) still attached after
    the production one; yields what the production handler writes. configure() replaces the root
    handlers (basicConfig force=True closes them), so pytest's are set aside first and restored after."""
    root = logging.getLogger()
    caplog.set_level(logging.DEBUG)  # caplog restores the root level at teardown
    pytest_handlers = root.handlers[:]
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    for handler in pytest_handlers:
        root.removeHandler(handler)
    configure("DEBUG")
    [production] = root.handlers
    output = io.StringIO()
    production.setStream(output)  # type: ignore[attr-defined]
    for handler in pytest_handlers:
        root.addHandler(handler)
    try:
        yield output
    finally:
        root.removeHandler(production)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def logged_text(record: logging.LogRecord) -> str:
    """The message and any traceback text a handler could write for this record."""
    parts = [record.getMessage(), record.exc_text or "", record.stack_info or ""]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def production_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of the bot's process, not of the fake Bot API's server thread."""
    return [r for r in caplog.records if not r.threadName.startswith("FakeBotAPI")]


async def parse_weight(ctx: Context, message: Inbound) -> str:
    """A step with an everyday bug: it expects a bare number of kilograms."""
    int(message.text)
    return MENU


async def test_a_telegram_conversation_leaves_no_personal_data_in_the_logs(
    fake: FakeBotAPI, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with production_logging(caplog) as output:
        async with Chat(fake, app, USER) as chat:
            await chat.say("/start")
            await chat.do(Tap("Bahasa Indonesia"))
            shared = await chat.send(fake.contact_update(USER, OWN_PHONE, first_name="Siti", own=True))
            assert shared, "the contact was answered"
            assert await chat.say(TYPED), "the typed number was answered"

            # a transport error while polling, and one while sending
            fake.fail_next("getUpdates", status=500)
            fake.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
            await chat.say("/menu")
            assert any(call.status == 400 for call in fake.sent), "a send failed"

            # a broken step: the apology path logs the exception
            app.engine.dialog.steps = {**STEPS, MENU: Step(menu.ask_menu, parse_weight, menu.STEPS[MENU].help, TEXT)}
            assert await chat.say(BROKEN_INPUT) == [translate("id", "error.apology")]

    records = production_records(caplog)
    failed = [r for r in records if r.name == "bot.engine" and (r.exc_info or r.exc_text)]
    assert failed, "the broken step was logged with its traceback"
    assert pseudonym(f"telegram:{USER}") in failed[0].getMessage()
    assert any(r.name == "bot.channels.telegram.polling" for r in records), "the getUpdates failure was logged"

    for record in records:
        text = logged_text(record)
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in a {record.levelname} record of {record.name}:\n{text}"
    written = output.getvalue()
    assert "step failed" in written and "Traceback" in written
    for secret in SECRETS:
        assert secret not in written, f"{secret!r} written to the log:\n{written}"


def test_http_client_request_urls_are_scrubbed_even_when_not_quieted(
    fake: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: httpx at INFO logs request URLs, which carry the token; records are scrubbed as
    they are made, so even then the token never reaches a handler."""
    import httpx

    caplog.set_level(logging.INFO, logger="httpx")
    httpx.get(f"{fake.base_url}{TOKEN}/getMe")
    [record] = [r for r in caplog.records if r.name == "httpx"]
    assert "getMe" in record.getMessage()
    assert TOKEN not in record.getMessage() and TOKEN.split(":")[1] not in record.getMessage()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"POST http://127.0.0.1/bot{TOKEN}/sendMessage", "POST http://127.0.0.1/bot***/sendMessage"),
        ("token 7123456789:AAHk9x2-Qm_ZpL0s8dV3rT6yWn1bCe4fGhJ ok", "token *** ok"),
        ("hubungi +6281234567890 segera", "hubungi *** segera"),
        ("hubungi 6281234567890 segera", "hubungi *** segera"),
        ("hubungi 081234567890 segera", "hubungi *** segera"),
        ("kontak: 0857111122223", "kontak: ***"),
        ("WhatsApp whatsapp:+6281234567890", "WhatsApp whatsapp:***"),
        ("foreign +4915123456789.", "foreign ***."),
        ("two numbers 081234567890 and +6285711112222", "two numbers *** and ***"),
        ("grouped 0812-3456-7890 and +62 812 3456 7890", "grouped *** and ***"),
        ("weighing 08.00 WIB on 2026-12-05", "weighing 08.00 WIB on 2026-12-05"),
    ],
)
def test_mask_hides_tokens_and_phone_numbers(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "update 700000101 handled",
        "saldo Rp1.500.000 untuk 12 kg",
        "step failed for p:3f9a0c1d2e4b (update 42)",
        "order 2024-06-12T08:00:00+07:00",
        "RW 05 RT 02, 3 MCK",
    ],
)
def test_mask_leaves_ordinary_text_alone(text: str) -> None:
    assert mask(text) == text


def _record(msg: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("bot.test", logging.INFO, __file__, 1, msg, args or None, exc_info)  # type: ignore[arg-type]


def test_masking_filter_masks_formatted_messages_and_never_drops_a_record() -> None:
    record = _record("shared contact %s for %s", "+6281234567890", "p:abc")
    assert MaskingFilter().filter(record) is True
    assert record.getMessage() == "shared contact *** for p:abc"


def test_masking_filter_leaves_clean_records_untouched() -> None:
    args = ("p:abc", 42)
    record = _record("step failed for %s (update %s)", *args)
    assert MaskingFilter().filter(record) is True
    assert record.msg == "step failed for %s (update %s)" and record.args == args


def _lookup(phone: str) -> None:
    try:
        {}["whatsapp:" + phone]
    except KeyError as exc:
        raise LookupError(f"no account for {phone}") from exc


def test_tracebacks_keep_where_and_which_error_but_not_the_message() -> None:
    """Exception messages quote what the person sent (`int("0812…")`, SQL parameters), so the
    production handler writes tracebacks with every message in the chain hidden."""
    try:
        _lookup(OWN_PHONE)
    except LookupError:
        record = _record("lookup failed for %s", "p:abc", exc_info=sys.exc_info())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.handle(record)
    written = stream.getvalue()
    assert "6281234567890" not in written
    assert written.startswith("lookup failed for p:abc\nTraceback (most recent call last):")
    assert "KeyError (message hidden)" in written  # the cause is still shown
    assert "The above exception was the direct cause of the following exception" in written
    assert 'in _lookup\n    {}["whatsapp:" + phone]' in written  # frames and source lines kept
    assert written.rstrip().endswith("LookupError (message hidden)")
    # handlers after the production one (caplog, an error tracker) see the same redacted record
    assert record.exc_info is None and "6281234567890" not in logging.Formatter().format(record)


def test_an_already_formatted_traceback_is_masked() -> None:
    record = _record("failed")
    record.exc_text = "Traceback (most recent call last):\nValueError: no account for 081234567890"
    MaskingFilter().filter(record)
    assert record.exc_text.endswith("ValueError: no account for ***")
