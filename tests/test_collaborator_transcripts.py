"""Issue 5's first Done criterion, word for word through the real entry points: a company signs up while
choosing an RW's Bersama offer, pledges Rp25.000.000 and sees the bar move, cancels it from `Ikrar saya`
and pledges again; the RW's upgrading coordinator confirms, and the collaborator receives the payment
instructions and the commitment letter as a PDF. In the local chat (`ksbb chat` subprocesses) and on
Telegram (the polling loop, and the webhook on the ASGI app, against the fake Bot API) and on WhatsApp
(signed Twilio forms; the letter fetched from its signed media URL), on SQLite and PostgreSQL.

The journey is four sessions, as people would live it: the company's first visit, its return visit, the
coordinator's, and the company opening the chat again to find the letter."""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.app import App
from handlers.text.formatting import datetime_short, progress_bar
from handlers.text.i18n import translate
from storage import catalog
from storage.db import Database
from storage.models import Pledge, UpgradeRW
from storage.models.roles import COORDINATOR, UPGRADING
from storage.people import identify
from storage.pledges import reference
from storage.roles import grant_role
from storage.types import utcnow
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.test_coordinator_pledges import BERSAMA, listed_rw, pdf_text
from tests.transcripts import (
    PUBLIC_BASE_URL,
    ROOT,
    Action,
    Expected,
    Say,
    Tap,
    TelegramChat,
    TelegramWebhookChat,
    Transcript,
    WhatsAppChat,
    assert_turns,
    on_channel,
    split_choices,
    split_turns,
    texts,
)

ORGANISATION = "PT Sinar Harapan Nusantara"
RW = "Karet Tengsin RW 005"
WHERE = f"{RW}, Jakarta Pusat"  # how pledge messages name the RW
AMOUNT = "Rp25.000.000"
TARGET = "Rp150.000.000"
SIXTEEN = progress_bar(Fraction(25, 150))  # ▓░░░░░░░░░ 16%
ZERO = progress_bar(0)
HOURS = 72
TELEGRAM_IDS = {"pt": 701, "koor": 702}
WHATSAPP_NUMBERS = {"pt": "+6281370000701", "koor": "+6281370000702"}
ANY = "\x00"  # a placeholder value that matches any text: an RW list page's lines, a reference not known yet


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


@dataclass(frozen=True)
class Step:
    """What the person does, the replies (catalog keys), and texts that must also show within them
    (the progress bar and supporters inside the RW page, a pledge inside `Ikrar saya`)."""

    action: Action
    expected: Expected
    shows: Sequence[str] = ()


def transcript(steps: Sequence[Step]) -> Transcript:
    return [(step.action, step.expected) for step in steps]


def joined(turn: str | list[str]) -> str:
    return turn if isinstance(turn, str) else "\n\n".join(turn)


def assert_steps(turns: Sequence[str | list[str]], steps: Sequence[Step]) -> None:
    """`assert_turns`, except that an ANY value matches any text in its place; then the texts each
    step must also show."""
    for turn, step in zip(turns, steps, strict=True):
        wanted = texts(step.expected)
        if not any(ANY in text for text in wanted):
            assert_turns([turn], [(step.action, step.expected)])
        else:
            patterns = [".*?".join(map(re.escape, text.split(ANY))) for text in wanted]
            if isinstance(turn, str):
                assert re.search(".*?".join(patterns), turn, re.DOTALL), (step.action, turn, wanted)
            else:
                assert len(turn) == len(patterns), (step.action, turn, wanted)
                for message, pattern in zip(turn, patterns, strict=True):
                    assert re.match(pattern, message, re.DOTALL), (step.action, message, pattern)
        for text in step.shows:
            assert text in joined(turn), (step.action, turn, text)


# --- The two channels ---------------------------------------------------------------------------


@dataclass
class Local:
    """`ksbb chat --user NAME` subprocesses run from a directory of their own, where the chat saves the
    documents it receives (`ksbb-files/`). Unlike `tests.transcripts.local_chat`, a session also
    returns what was printed before the first message: what waited for the person."""

    database_url: str
    directory: Path

    def identity(self, user: str) -> tuple[str, str, str]:
        return f"local:{user}", "local", user

    def run(self, user: str, steps: Sequence[Step]) -> tuple[str, list[str]]:
        lines = [step.action.text if isinstance(step.action, Say) else step.action.label for step in steps]
        env = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONPATH": str(ROOT)}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--user", user], input="\n".join(lines) + "\n",
            capture_output=True, text=True, env=env, cwd=self.directory, timeout=120, check=False,
        )
        assert result.returncode == 0, result.stderr
        waiting = ("\n" + result.stdout).split("\n> ")[0]
        return waiting, split_turns(result.stdout, lines)

    async def session(self, user: str, steps: Sequence[Step]) -> tuple[str, list[str]]:
        return await asyncio.to_thread(self.run, user, steps)

    def documents(self, user: str) -> dict[str, bytes]:
        """The files the chat saved, by name."""
        return {path.name: path.read_bytes() for path in (self.directory / "ksbb-files").glob("*")}

    async def close(self) -> None:
        return None


@dataclass
class Telegram:
    """Telegram users talking through the fake Bot API to the real polling loop and sender (or, with
    TelegramWebhookChat, posting to the webhook of the ASGI app); what waited for a user is what reached
    their chat since their last session. Texts are compared as the person reads them (the transport sends
    them HTML-escaped)."""

    fake: FakeBotAPI
    app: App
    seen: dict[str, int] = field(default_factory=dict)
    chat: type[TelegramChat] | type[TelegramWebhookChat] = TelegramChat

    def identity(self, user: str) -> tuple[str, str, str]:
        return f"telegram:{TELEGRAM_IDS[user]}", "telegram", str(TELEGRAM_IDS[user])

    async def session(self, user: str, steps: Sequence[Step]) -> tuple[list[str], list[list[str]]]:
        user_id = TELEGRAM_IDS[user]
        waiting = [html.unescape(call.text or "") for call in self.fake.sent_to(user_id)[self.seen.get(user, 0):]]
        async with self.chat(self.fake, self.app, user_id) as chat:
            turns = [[html.unescape(text) for text in await chat.do(step.action)] for step in steps]
        self.seen[user] = len(self.fake.sent_to(user_id))
        return waiting, turns

    def documents(self, user: str) -> dict[str, bytes]:
        return {call.filename or "": call.document or b"" for call in self.fake.sent_to(TELEGRAM_IDS[user])
                if call.method == "sendDocument"}

    async def close(self) -> None:
        await self.app.db.dispose()


@dataclass
class WhatsApp:
    """WhatsApp users posting signed Twilio forms to the ASGI app; what waited for a user is what the
    fake Twilio API received for them since their last session, and documents are fetched from the
    signed media URLs Twilio was given, through the web app, as Twilio would."""

    twilio: FakeTwilioAPI
    app: App
    seen: dict[str, int] = field(default_factory=dict)

    def identity(self, user: str) -> tuple[str, str, str]:
        return f"whatsapp:{WHATSAPP_NUMBERS[user]}", "whatsapp", WHATSAPP_NUMBERS[user]

    async def session(self, user: str, steps: Sequence[Step]) -> tuple[list[str], list[list[str]]]:
        number = WHATSAPP_NUMBERS[user]
        waiting = [split_choices(m.body or "")[0] for m in self.twilio.sent_to(number)[self.seen.get(user, 0):]]
        async with WhatsAppChat(self.twilio, self.app, number) as chat:
            turns = [await chat.do(step.action) for step in steps]
        self.seen[user] = len(self.twilio.sent_to(number))
        return waiting, turns

    async def fetch_documents(self, user: str) -> dict[str, bytes]:
        found = {}
        transport = httpx.ASGITransport(app=self.app.web(None))
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
            for message in self.twilio.sent_to(WHATSAPP_NUMBERS[user]):
                if message.media_url:
                    response = await client.get(message.media_url.removeprefix(PUBLIC_BASE_URL))
                    assert response.status_code == 200, message.media_url
                    found[message.media_url.split("?")[0].rsplit("/", 1)[1]] = response.content
        return found

    async def close(self) -> None:
        await self.app.db.dispose()


# --- Facts from the database --------------------------------------------------------------------


async def make_coordinator(db: Database, key: str, channel: str, address: str, rw_id: int) -> None:
    """An upgrading coordinator of the RW, known to the bot on this channel but never written to it."""
    async with db.transaction() as session:
        person_id = (await identify(session, key, channel, address, "id", utcnow())).person_id
        await grant_role(session, person_id, COORDINATOR, utcnow(), strand=UPGRADING, rw_ids=[rw_id])


async def jakarta_pusat(db: Database) -> tuple[str, int]:
    """The kota button (`Jakarta Pusat (34 RW)`) and how many RWs it lists."""
    async with db.transaction() as session:
        counted = next(k for k in await catalog.kota_counts(session) if k.name == "Jakarta Pusat")
    return t("browse.kota_choice", kota=counted.name, count=counted.rws), counted.rws


async def all_pledges(db: Database) -> list[Pledge]:
    async with db.transaction() as session:
        return list((await session.execute(select(Pledge).order_by(Pledge.id))).scalars())


async def payment_of(db: Database, rw_id: int) -> str:
    async with db.transaction() as session:
        found = await session.get(UpgradeRW, rw_id)
        assert found is not None and found.payment
        return found.payment


# --- The sessions -------------------------------------------------------------------------------


def rw_page(status: str, pledged: str, bar: str, supporters: str) -> tuple[Expected, list[str]]:
    """The RW page (its title, then the question) and what it must show: the Bersama bar, supporters."""
    title = ("id", "browse.rw_title", {"name": RW, "sample": t("browse.sample_marker"), "kelurahan": "Karet Tengsin",
                                       "kecamatan": "Tanah Abang", "kota": "Jakarta Pusat",
                                       "status": t(f"upgrading.status.{status}")})
    return [title, ("id", "browse.rw_ask")], [BERSAMA, t("browse.offer_progress", pledged=pledged, bar=bar), supporters]


def page_of_rws(page: int, count: int) -> tuple[str, str, dict[str, object]]:
    return ("id", "browse.list_kota", {"place": "Jakarta Pusat", "count": count, "page": page,
                                      "pages": (count + 7) // 8, "lines": ANY})


def pledging(amount_typed: str) -> list[Step]:
    """From the amount question's answer to the pledge recorded with the bar at 16%."""
    summary = {"rw": WHERE, "package": BERSAMA, "amount": AMOUNT, "hours": HOURS}
    recorded = {**summary, "reference": ANY, "pledged": AMOUNT, "target": TARGET, "bar": SIXTEEN}
    return [
        Step(Say(amount_typed), [("id", "pledge.ask_confirm", summary)]),
        Step(Tap(t("pledge.yes")), [("id", "pledge.recorded", recorded), ("id", "menu.ask")], shows=["16%"]),
    ]


ASK_AMOUNT = ("id", "pledge.ask_amount", {"package": BERSAMA, "rw": WHERE, "minimum": "Rp1.000.000",
                                          "remaining": TARGET})


def first_visit(kota_button: str, rws: int) -> list[Step]:
    """A new user: language, browse Jakarta Pusat, open the RW, sign up as a company, pledge."""
    open_page, open_shows = rw_page("open", "Rp0", ZERO, t("browse.no_supporters"))
    return [
        Step(Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
        Step(Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
        Step(Tap(t("menu.upgrading")), [("id", "browse.ask_kota")]),
        Step(Tap(kota_button), [page_of_rws(1, rws)]),
        Step(Tap(t("browse.next")), [page_of_rws(2, rws)],
             shows=[f"• {RW}{t('browse.sample_marker')} – {t('upgrading.status.open')}"]),
        Step(Tap(RW), open_page, shows=open_shows),
        Step(Tap(t("browse.pledge_to", package=BERSAMA)), [("id", "collab.notice"), ("id", "register.ask_consent")]),
        Step(Tap(t("register.agree")), [("id", "collab.ask_type")]),
        Step(Tap(t("collab.type_company")), [("id", "collab.ask_company")]),
        Step(Say(ORGANISATION), [("id", "collab.ask_contact", {"organisation": ORGANISATION, "name": ""})]),
        Step(Say("Dewi Lestari"), [("id", "collab.ask_phone")]),
        Step(Say("0812 3456 7890"), [("id", "collab.ask_email")]),
        Step(Tap(t("collab.skip_email")), [("id", "collab.ask_public", {"name": ORGANISATION})]),
        Step(Tap(t("collab.public_yes")), [("id", "collab.done", {"name": ORGANISATION}), ASK_AMOUNT]),
        *pledging("25 juta"),
    ]


def return_visit(first: Pledge) -> list[Step]:
    """The RW page shows the pledge (16%, the company's name); `Ikrar saya` cancels it (back to 0%);
    the company pledges again, typing the amount another way."""
    ref = reference(first)
    item = {"reference": ref, "package": BERSAMA, "rw": "005", "kelurahan": "Karet Tengsin", "amount": AMOUNT}
    pledged_page, pledged_shows = rw_page("partly_funded", AMOUNT, SIXTEEN,
                                          t("browse.supporters", lines=f"• {ORGANISATION} – {AMOUNT}"))
    open_page, open_shows = rw_page("open", "Rp0", ZERO, t("browse.no_supporters"))
    return [
        Step(Tap(t("menu.upgrading")), [("id", "browse.ask_kota")]),
        Step(Say("karet tengsin rw 5"), pledged_page, shows=pledged_shows),
        Step(Tap(t("browse.to_menu")), [("id", "menu.ask")]),
        Step(Tap(t("menu.my_pledges")), [("id", "mine.header")], shows=[
            t("mine.item", status=t("pledge.status.pledged"), **item),
            t("mine.hold_until", until=datetime_short(first.expires_at, "id")),
            t("mine.progress", bar=SIXTEEN),
        ]),
        Step(Tap(t("mine.cancel_label", reference=ref)), [("id", "mine.ask_cancel", item)]),
        Step(Tap(t("mine.cancel_yes")), [("id", "mine.cancelled", {"reference": ref, "amount": AMOUNT}),
                                         ("id", "mine.item", {**item, "status": t("pledge.status.cancelled")}),
                                         ("id", "menu.ask")],
             shows=[t("mine.progress", bar=ZERO), "0%"]),
        Step(Tap(t("menu.upgrading")), [("id", "browse.ask_kota")]),
        Step(Say("karet tengsin rw 5"), open_page, shows=open_shows),
        Step(Tap(t("browse.pledge_to", package=BERSAMA)), [ASK_AMOUNT]),
        *pledging("Rp 25.000.000,-"),
    ]


def coordinator_notices(pledges_made: list[Pledge]) -> Expected:
    """What waits for the RW's coordinator: one notice per pledge made (a cancelled one included)."""
    return [("id", "pledge.coordinator_notice", {"who": ORGANISATION, "package": BERSAMA, "rw": WHERE,
                                                 "amount": AMOUNT, "reference": reference(made), "hours": HOURS})
            for made in pledges_made]


def coordinator_confirms(second: Pledge) -> list[Step]:
    """The coordinator opens `Ikrar kolaborator`, sees the pledge in full and confirms it."""
    ref = reference(second)
    waiting_label = " · ".join(("RW 005 Karet Tengsin", BERSAMA, AMOUNT, t("pledge.status.pledged")))
    details = {"reference": ref, "who": ORGANISATION, "type": t("collab.type_company"), "contact": "Dewi Lestari",
               "rw": "005", "kelurahan": "Karet Tengsin", "package": BERSAMA, "amount": AMOUNT,
               "status": t("pledge.status.pledged"), "created": datetime_short(second.created_at, "id"), "hours": 0}
    return [
        Step(Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
        Step(Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
        Step(Tap(t("menu.coordinate")), [("id", "coord.ask")]),
        Step(Tap(t("coord.pledges")), [("id", "coordpl.ask_list", {"waiting": 1, "under_way": 0})]),
        Step(Tap(waiting_label), [("id", "coordpl.details", details), ("id", "coordpl.ask_action")],
             shows=[t("coordpl.details_phone", phone="+6281234567890")]),
        Step(Tap(t("coordpl.confirm")), [("id", "coordpl.confirmed_done", {"reference": ref}),
                                         ("id", "coordpl.ask_list", {"waiting": 0, "under_way": 1})]),
    ]


def letter_arrived(first: Pledge, second: Pledge) -> list[Step]:
    """Back in the chat, `Ikrar saya` shows the pledge confirmed and the cancelled one."""
    where = {"package": BERSAMA, "rw": "005", "kelurahan": "Karet Tengsin", "amount": AMOUNT}
    return [Step(Tap(t("menu.my_pledges")), [("id", "mine.header"), ("id", "menu.ask")], shows=[
        t("mine.item", reference=reference(second), status=t("pledge.status.confirmed"), **where),
        t("mine.item", reference=reference(first), status=t("pledge.status.cancelled"), **where),
    ])]


# --- The test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["local", "telegram", "telegram_webhook", "whatsapp"])
async def test_a_company_pledges_cancels_pledges_again_and_receives_the_letter_once_confirmed(
    channel: str, database_url: str, db: Database, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    chat: Local | Telegram | WhatsApp
    if channel == "whatsapp":
        chat = WhatsApp(request.getfixturevalue("twilio_api"), on_channel(channel, request).app())
    elif channel == "local":
        chat = Local(database_url, tmp_path)
    elif channel == "telegram":
        chat = Telegram(request.getfixturevalue("fake"), App(request.getfixturevalue("telegram_settings")))
    else:
        chat = Telegram(request.getfixturevalue("fake"), on_channel(channel, request).app(), chat=TelegramWebhookChat)
    rw_id, _ = await listed_rw(db)
    await make_coordinator(db, *chat.identity("koor"), rw_id)
    kota_button, rws = await jakarta_pusat(db)
    try:
        steps = first_visit(kota_button, rws)
        _, turns = await chat.session("pt", steps)
        assert_steps(turns, steps)
        [first] = await all_pledges(db)

        steps = return_visit(first)
        _, turns = await chat.session("pt", steps)
        assert_steps(turns, steps)
        first, second = await all_pledges(db)
        assert (first.status, second.status, second.amount) == ("cancelled", "pledged", 25_000_000)

        steps = coordinator_confirms(second)
        waiting, turns = await chat.session("koor", steps)
        assert_steps([waiting], [Step(Say("(what waited)"), coordinator_notices([first, second]))])
        assert_steps(turns, steps)

        steps = letter_arrived(first, second)
        waiting, turns = await chat.session("pt", steps)
        values = {"reference": reference(second), "amount": AMOUNT, "package": BERSAMA, "rw": "005",
                  "kelurahan": "Karet Tengsin"}
        assert_steps([waiting], [Step(Say("(what waited)"), [
            ("id", "pledgenote.confirmed", {**values, "payment": await payment_of(db, rw_id)}),
            ("id", "pledgenote.letter_caption", values),
        ])])
        assert_steps(turns, steps)

        filename = f"surat-komitmen-{reference(second)}.pdf"
        documents = await chat.fetch_documents("pt") if isinstance(chat, WhatsApp) else chat.documents("pt")
        assert list(documents) == [filename]
        assert documents[filename].startswith(b"%PDF")
        drawn = pdf_text(documents[filename])
        for expected in ("RW 005", "Karet Tengsin", BERSAMA, AMOUNT, reference(second), ORGANISATION):
            assert expected in drawn, expected
        if isinstance(chat, Local):
            assert f"[file: ksbb-files/{filename}]" in waiting
    finally:
        await chat.close()
