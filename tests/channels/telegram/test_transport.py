"""Neutral replies as the person receives them on Telegram, and Bot API failures as the sender sees them."""

from __future__ import annotations

import html
import json
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.channels.errors import Permanent, SendError, Throttled, Transient, Unreachable
from bot.channels.telegram import make_bot
from bot.channels.telegram.commands import register_commands
from bot.channels.telegram.transport import TelegramTransport
from handlers.messages import Attachment, Choice, Reply
from handlers.text.i18n import translate
from tests.channels.telegram.conftest import TOKEN
from tests.fakes.telegram_api import FakeBotAPI

# PTB warns on every RetryAfter it builds (retry_after becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT = 812345678
PDF = b"%PDF-1.4\n% surat komitmen\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 4


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(TOKEN, fake.base_url) as client:
        yield client


@pytest.fixture
def transport(bot: Bot) -> TelegramTransport:
    return TelegramTransport(bot)


@pytest.mark.parametrize(
    "text",
    ["<b>&", "Saldo <Rp15.000> & poin", "Tulis 5 < 10 & 10 > 5", "Kode \"inv_abc\" & 'xyz'", "tanpa tanda khusus"],
)
async def test_text_arrives_literally_as_typed(text: str, transport: TelegramTransport, fake: FakeBotAPI) -> None:
    """Characters that look like HTML are escaped, so Telegram shows them instead of reading markup."""
    await transport.send(str(CHAT), Reply(text))
    [call] = fake.sent_to(CHAT)
    assert call.method == "sendMessage"
    assert call.params["parse_mode"] == "HTML"
    assert call.text == html.escape(text)
    assert html.unescape(call.text) == text  # what the person reads
    assert call.params["link_preview_options"] == {"is_disabled": True}


async def test_choices_become_one_button_per_row(transport: TelegramTransport, fake: FakeBotAPI) -> None:
    reply = Reply(
        "Silakan pilih:",
        choices=(
            Choice("menu:setoran", "Lapor setoran sampah yang sudah dipilah"),
            Choice("menu:saldo", "Cek saldo"),
            Choice("menu:language", "Ganti bahasa / Change language"),
        ),
    )
    message_id = await transport.send(str(CHAT), reply)
    [call] = fake.sent_to(CHAT)
    assert call.reply_markup == {
        "inline_keyboard": [
            [{"text": "Lapor setoran sampah yang sudah dipilah", "callback_data": "menu:setoran"}],
            [{"text": "Cek saldo", "callback_data": "menu:saldo"}],
            [{"text": "Ganti bahasa / Change language", "callback_data": "menu:language"}],
        ]
    }
    assert message_id == str(call.message_id)


async def test_long_text_is_split_with_the_keyboard_on_the_last_piece(
    transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    paragraph = "Jadwal penimbangan bank sampah RW 05 setiap Sabtu pukul 08.00 di balai warga. " * 12
    text = "\n\n".join([paragraph.strip()] * 10)[:9000]
    assert len(text) == 9000
    reply = Reply(text, choices=(Choice("menu:main", "Menu utama"),))

    message_id = await transport.send(str(CHAT), reply)

    calls = fake.sent_to(CHAT)
    assert len(calls) == 3
    assert all(len(call.text or "") <= 4096 for call in calls)
    assert [call.reply_markup for call in calls] == [
        None,
        None,
        {"inline_keyboard": [[{"text": "Menu utama", "callback_data": "menu:main"}]]},
    ]
    received = " ".join(call.text or "" for call in calls)
    assert received.split() == text.split()  # nothing lost, order kept
    assert message_id == str(calls[-1].message_id)


@pytest.mark.parametrize(
    ("reply", "method", "field"),
    [
        (
            Reply("Surat komitmen <PT Maju & Jaya>", document=Attachment("surat-komitmen.pdf", PDF)),
            "sendDocument",
            "document",
        ),
        (Reply("Foto timbangan", image=Attachment("timbangan.jpg", JPEG)), "sendPhoto", "photo"),
        (Reply("", document=Attachment("laporan.csv", b"rw,kg\n05,120\n")), "sendDocument", "document"),
    ],
    ids=["document", "image", "document-without-caption"],
)
async def test_files_arrive_as_uploads_with_their_name(
    reply: Reply, method: str, field: str, transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    await transport.send(str(CHAT), reply)
    [call] = fake.sent_to(CHAT)
    attachment = reply.document or reply.image
    assert attachment is not None
    assert call.method == method
    assert getattr(call, field) == attachment.content
    assert call.filename == attachment.filename
    if reply.text:
        assert call.params["caption"] == html.escape(reply.text)
        assert call.params["parse_mode"] == "HTML"
    else:
        assert "caption" not in call.params


async def test_a_photo_telegram_holds_is_sent_by_its_file_id_and_another_platforms_as_text(
    transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    await transport.send(str(CHAT), Reply("Gapura sudah berdiri.", photo_ref="telegram:AgACAgIAAxkBAAIgapura"))
    await transport.send(str(CHAT), Reply("Mural selesai.", photo_ref="whatsapp:https://api.twilio.com/Media/ME1"))
    photo, text = fake.sent_to(CHAT)
    assert (photo.method, photo.params["photo"], photo.params["caption"]) == (
        "sendPhoto", "AgACAgIAAxkBAAIgapura", "Gapura sudah berdiri.")
    assert (text.method, text.params["text"]) == ("sendMessage", "Mural selesai.")


async def test_file_caption_is_cut_to_telegrams_limit(transport: TelegramTransport, fake: FakeBotAPI) -> None:
    await transport.send(str(CHAT), Reply("Rekap " * 400, document=Attachment("rekap.pdf", PDF)))
    [call] = fake.sent_to(CHAT)
    assert 0 < len(call.params["caption"]) <= 1024


def _refused_port() -> int:
    """A localhost port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Setup = Callable[[FakeBotAPI], None]

ERRORS: list[tuple[str, Setup, type[SendError]]] = [
    (
        "429-too-many-requests",
        lambda f: f.fail_next(
            "sendMessage", status=429, description="Too Many Requests: retry after 7", parameters={"retry_after": 7}
        ),
        Throttled,
    ),
    ("403-blocked", lambda f: f.block(CHAT), Unreachable),
    (
        "403-deactivated",
        lambda f: f.fail_next("sendMessage", status=403, description="Forbidden: user is deactivated"),
        Unreachable,
    ),
    (
        "400-chat-not-found",
        lambda f: f.fail_next("sendMessage", status=400, description="Bad Request: chat not found"),
        Unreachable,
    ),
    (
        "400-bad-request",
        lambda f: f.fail_next(
            "sendMessage",
            status=400,
            description='Bad Request: can\'t parse entities: unsupported start tag "b" at byte offset 0',
        ),
        Permanent,
    ),
    ("500-internal", lambda f: f.fail_next("sendMessage", status=500), Transient),
    ("502-bad-gateway", lambda f: f.fail_next("sendMessage", status=502), Transient),
]


@pytest.mark.parametrize(("setup", "kind"), [(s, k) for _, s, k in ERRORS], ids=[name for name, _, _ in ERRORS])
async def test_platform_errors_become_the_shared_kinds(
    setup: Setup, kind: type[SendError], transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    setup(fake)
    with pytest.raises(kind) as caught:
        await transport.send(str(CHAT), Reply("Halo"))
    assert type(caught.value) is kind
    if isinstance(caught.value, Throttled):
        assert caught.value.retry_after == 7


async def test_real_rate_limit_is_throttled_with_a_wait_of_at_least_a_second(
    transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    fake.chat_burst, fake.chat_per_second = 1, 0.5
    await transport.send(str(CHAT), Reply("satu"))
    with pytest.raises(Throttled) as caught:
        await transport.send(str(CHAT), Reply("dua"))
    assert caught.value.retry_after >= 1
    assert fake.count_429 == 1


async def test_unreachable_api_is_transient(fake: FakeBotAPI) -> None:
    """Connection refused: nothing was sent, so the same message may be tried again."""
    async with make_bot(TOKEN, fake.base_url) as client:
        client._base_url = client._base_url.replace(str(fake.port), str(_refused_port()))  # noqa: SLF001
        with pytest.raises(Transient):
            await TelegramTransport(client).send(str(CHAT), Reply("Halo"))


async def test_slow_api_times_out_as_transient(fake: FakeBotAPI) -> None:
    client = Bot(TOKEN, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.05))
    async with client:
        fake.latency = 0.3
        with pytest.raises(Transient):
            await TelegramTransport(client).send(str(CHAT), Reply("Halo"))


@pytest.mark.parametrize(
    "setup",
    [
        lambda f: f.fail_next("sendMessage", status=401, description="Unauthorized"),
        lambda f: f.fail_next(
            "sendMessage",
            status=400,
            description="Bad Request: group chat was upgraded to a supergroup chat",
            parameters={"migrate_to_chat_id": -1001987654321},
        ),
    ],
    ids=["401-token-revoked", "400-chat-migrated"],
)
async def test_every_platform_error_is_a_shared_kind(
    setup: Setup, transport: TelegramTransport, fake: FakeBotAPI
) -> None:
    """The Transport contract: a failed send raises one of the shared errors, never a PTB error."""
    setup(fake)
    with pytest.raises(SendError):
        await transport.send(str(CHAT), Reply("Halo"))


def _commands(fake: FakeBotAPI, language_code: str) -> list[tuple[str, str]]:
    key = json.dumps([{"type": "default"}, language_code], sort_keys=True)
    return [(c["command"], c["description"]) for c in fake.commands[key]]


async def test_command_menu_is_indonesian_by_default_and_english_for_english_clients(
    bot: Bot, fake: FakeBotAPI
) -> None:
    await register_commands(bot)
    keys = ["command.start", "command.menu", "command.help", "command.cancel", "command.language"]
    assert _commands(fake, "") == [
        (name, translate("id", key))
        for name, key in zip(["start", "menu", "bantuan", "batal", "bahasa"], keys, strict=True)
    ]
    assert _commands(fake, "en") == [
        (name, translate("en", key))
        for name, key in zip(["start", "menu", "help", "cancel", "language"], keys, strict=True)
    ]
    descriptions = [d for lang in ("", "en") for _, d in _commands(fake, lang)]
    assert not any(d.startswith("command.") for d in descriptions)  # catalogs were loaded
    assert _commands(fake, "")[0][1] != _commands(fake, "en")[0][1]
