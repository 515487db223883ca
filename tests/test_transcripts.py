"""Conversations word for word on every channel through its real entry point (the local chat as a
subprocess, Telegram polling, the Telegram webhook on the ASGI app, WhatsApp through signed Twilio posts),
on SQLite and PostgreSQL: the welcome with language, help and cancel; labels typed with typos on
WhatsApp; a coordinator weighing in a resident's deposit step by step. The resident's journey is in
test_resident_journey.py, the collaborator's in test_collaborator_transcripts.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.consent import NOTICE_VERSION
from handlers.text.formatting import datetime_short
from handlers.text.i18n import translate
from storage import banks
from storage.db import Database
from storage.models import WasteBank
from storage.models.roles import COORDINATOR, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.reference import SAMPLE_BANK
from storage.reports import create_report
from storage.roles import grant_role
from storage.types import utcnow
from tests.conftest import count
from tests.transcripts import CHANNELS, Say, Tap, Transcript, assert_turns, on_channel

SPINE: Transcript = [
    (Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
    (Tap("English"), [("en", "language.set"), ("en", "menu.ask")]),
    (Say("BANTUAN"), [("en", "help.general"), ("en", "menu.ask")]),
    (Tap("Change language / Bahasa"), [("en", "language.ask")]),
    (Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
    (Say("BAHASA"), [("id", "language.ask")]),
    (Say("BANTUAN"), [("id", "language.help"), ("id", "language.ask")]),
    (Say("BATAL"), [("id", "cancel.done"), ("id", "menu.ask")]),
    (Tap("Bantuan"), [("id", "help.general"), ("id", "menu.ask")]),
]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_welcome_language_help_and_cancel(channel: str, database_url: str, request: pytest.FixtureRequest) -> None:
    turns = await on_channel(channel, request).turns(501, SPINE)
    assert_turns(turns, SPINE)


TYPED_LABELS: Transcript = [
    (Say("halo"), [("id", "start.welcome"), ("id", "language.ask")]),
    (Say("englsh"), [("en", "language.set"), ("en", "menu.ask")]),
    (Say("help"), [("en", "help.general"), ("en", "menu.ask")]),
    (Say("9"), [("en", "choice.invalid"), ("en", "menu.ask")]),
    (Say("chnge language"), [("en", "language.ask")]),
    (Say("1"), [("id", "language.set"), ("id", "menu.ask")]),
]


async def test_on_whatsapp_a_choice_is_answered_by_its_label_even_with_a_typo(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    """Numbers are what WhatsApp offers, but a label typed with a slip of the thumb is understood too;
    a number outside the list gets a clear answer and the question again."""
    turns = await on_channel("whatsapp", request).turns(502, TYPED_LABELS)
    assert_turns(turns, TYPED_LABELS)


# --- A coordinator weighs in a resident's deposit ---------------------------------------------------

BANK = SAMPLE_BANK["name"]


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


@dataclass(frozen=True)
class Siti:
    person: int
    account: int


async def siti_with_a_self_report(db: Database) -> tuple[Siti, datetime]:
    """Siti (member 1001 of the sample bank, RW 012 Kebon Melati) reported 2,5 kg of PET yesterday."""
    now = utcnow()
    async with db.transaction() as session:
        rw = await get_or_create_rw(session, SAMPLE_BANK["kelurahan"], SAMPLE_BANK["rw"])
        bank_id = (await session.execute(select(WasteBank.id).where(WasteBank.name == BANK))).scalar_one()
        person = (await identify(session, "local:siti", "local", "siti", "id", now)).person
        person.name, person.consent_at, person.consent_version, person.rw_id = "Siti Aminah", now, NOTICE_VERSION, rw.id
        account = await banks.ensure_account(session, person.id, bank_id)
        reported = now - timedelta(days=1)
        await create_report(session, person_id=person.id, rw_id=rw.id, bank_id=bank_id, items=[("plastik_pet", 2500)],
                            prices=await banks.price_list(session, bank_id, reported.date()), photo=None, now=reported)
        return Siti(person.id, account.id), reported


async def make_coordinator(db: Database, identity: str) -> None:
    """The person behind this identity key coordinates waste banking in RW 012 Kebon Melati."""
    now = utcnow()
    channel, _, address = identity.partition(":")
    async with db.transaction() as session:
        rw = await get_or_create_rw(session, SAMPLE_BANK["kelurahan"], SAMPLE_BANK["rw"])
        person_id = (await identify(session, identity, channel, address, "id", now)).person_id
        await grant_role(session, person_id, COORDINATOR, now, strand=WASTE, rw_ids=[rw.id])


def weigh_in(reported: datetime) -> Transcript:
    """Step by step from the coordinator menu: 2 kg of cardboard and 2,5 kg of PET, settling Siti's self-report."""
    siti = {"name": "Siti Aminah"}
    items = "2 kg kardus, 2,5 kg botol PET"

    def settle(mark: str) -> tuple[str, str, dict[str, object]]:
        report = t("weighin.pending_line", mark=mark, number=1, date=datetime_short(reported, "id"), items="2,5 kg botol PET")
        return ("id", "weighin.ask_settle", {**siti, "items": items, "reports": report})

    lines = "\n".join(t("report.line", category=category, weight=weight, price=price, value=value) for category, weight, price, value
                      in (("kardus", "2 kg", "Rp1.500", "Rp3.000"), ("botol PET", "2,5 kg", "Rp3.000", "Rp7.500")))
    summary = {**siti, "member": 1001, "bank": BANK, "lines": lines, "total": "Rp10.500", "settled": 1}
    return [
        (Say("/start"), [("id", "start.welcome"), ("id", "language.ask")]),
        (Tap("Bahasa Indonesia"), [("id", "language.set"), ("id", "menu.ask")]),
        (Tap("Menu koordinator"), [("id", "coord.ask")]),
        (Tap("Timbang setoran"), [("id", "weighin.ask_member", {"bank": BANK})]),
        (Say("1001"), [("id", "weighin.ask_category", siti)]),
        (Say("kardus"), [("id", "weighin.ask_weight", {"category": "kardus"})]),
        (Say("2 kg"), [("id", "weighin.ask_more", {"items": "2 kg kardus"})]),
        (Tap("Tambah jenis lain"), [("id", "weighin.ask_category", siti)]),
        (Tap("botol PET"), [("id", "weighin.ask_weight", {"category": "botol PET"})]),
        (Say("2,5"), [("id", "weighin.ask_more", {"items": items})]),
        (Tap("Sudah, lanjut"), [settle("⬜")]),
        (Tap("⬜ 1"), [settle("✅")]),
        (Tap("Lanjut"), [("id", "weighin.summary", summary), ("id", "weighin.ask_confirm")]),
        (Tap("Simpan"), [("id", "weighin.saved", {**siti, "amount": "Rp10.500", "balance": "Rp10.500"}),
                         ("id", "weighin.ask_member", {"bank": BANK})]),
        (Tap("Selesai"), [("id", "coord.ask")]),
    ]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_coordinator_weighs_in_a_deposit_and_the_resident_gets_a_receipt(
    channel: str, database_url: str, db: Database, request: pytest.FixtureRequest
) -> None:
    siti, reported = await siti_with_a_self_report(db)
    coordinator = on_channel(channel, request)
    await make_coordinator(db, coordinator.identity(7))
    transcript = weigh_in(reported)
    turns = await coordinator.turns(7, transcript)
    assert_turns(turns, transcript)
    assert await count(db, "SELECT sum(amount) FROM ledger_entry WHERE account_id = :a", a=siti.account) == 10_500
    assert await count(db, "SELECT count(*) FROM waste_report WHERE person_id = :p AND source = 'self' AND status = 'settled'",
                       p=siti.person) == 1
    receipts = await count(db, "SELECT count(*) FROM outbox WHERE person_id = :p AND channel = 'local'", p=siti.person)
    assert receipts == 1  # the receipt waits for Siti on her own channel
