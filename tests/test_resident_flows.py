"""The resident journey step by step through the engine: bad input at every step, drafts that
survive the idle reset, an RW without a bank, info, profile, and erasure."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.channels.local.transport import LocalTransport
from bot.engine import DUPLICATE, Engine
from bot.limiter import MemoryLimiter
from bot.sender import Sender
from handlers.messages import Contact, Kind
from handlers.text.i18n import translate
from storage.db import Database
from storage.models import (
    Account,
    Base,
    Conversation,
    LedgerEntry,
    Outbox,
    Person,
    Price,
    WasteBank,
    WasteReport,
)
from tests.conftest import count
from tests.support import Direct, inbound, register, replies


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def state(db: Database) -> str:
    async with db.transaction() as session:
        return (await session.execute(select(Conversation.state))).scalar_one()


async def test_nothing_personal_is_stored_before_consent_and_declining_stores_nothing(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    for message in ("/start", "1", "Daftar sebagai warga"):
        await chat.send(message)
    assert await chat.texts("Tidak setuju") == [t("register.declined"), t("menu.ask")]
    async with db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert (person.name, person.consent_at, person.rw_id) == (None, None, None)


async def test_consent_is_recorded_with_the_notice_version_and_time(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await register(chat)
    async with db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert person.consent_version == "2026-11" and person.consent_at is not None
    assert person.name == "Siti Aminah"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("kebon melati", "Kebon Melati – Tanah Abang, Jakarta Pusat"),
        ("Kebon Mlati", "Kebon Melati – Tanah Abang, Jakarta Pusat"),
        ("melati", "Kebon Melati – Tanah Abang, Jakarta Pusat"),
    ],
)
async def test_a_typed_kelurahan_name_is_found_despite_typos(db: Database, engine: Engine, typed: str, expected: str) -> None:
    chat = Direct(engine, db)
    for message in ("/start", "1", "Daftar sebagai warga", "Setuju", "Siti"):
        await chat.send(message)
    [reply] = await chat.send(typed)
    assert reply.text == t("register.ask_pick")
    assert reply.choices[0].label == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Zzyzx Raya", t("register.kelurahan_not_found", text="Zzyzx Raya")),
        ("12", t("register.kelurahan_not_found", text="12")),
    ],
)
async def test_an_unknown_kelurahan_is_said_plainly(db: Database, engine: Engine, answer: str, expected: str) -> None:
    chat = Direct(engine, db)
    for message in ("/start", "1", "Daftar sebagai warga", "Setuju", "Siti"):
        await chat.send(message)
    assert await chat.texts(answer) == [expected]
    assert await state(db) == "register.kota"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("0", "register.rw_out_of_range"), ("100", "register.rw_out_of_range"), ("dua belas", "register.rw_not_a_number")],
)
async def test_an_rw_number_out_of_range_or_not_a_number_is_refused(
    db: Database, engine: Engine, answer: str, expected: str
) -> None:
    chat = Direct(engine, db)
    for message in ("/start", "1", "Daftar sebagai warga", "Setuju", "Siti", "Kebon Melati", "1"):
        await chat.send(message)
    assert await chat.texts(answer) == [t(expected)]
    assert await state(db) == "register.rw"
    async with db.transaction() as session:
        assert (await session.execute(select(Person.rw_id))).scalar_one() is None


@pytest.mark.parametrize("answer", ["12", "012", "RW 12", "rw 012"])
async def test_every_way_of_writing_rw_12_is_the_same_rw(db: Database, engine: Engine, answer: str) -> None:
    chat = Direct(engine, db)
    await register(chat, rw=answer)
    assert await count(db, "SELECT count(*) FROM rw WHERE number = 12 AND kelurahan_code = '31.71.07.1005'") == 1
    assert await count(db, "SELECT count(*) FROM person WHERE rw_id IS NOT NULL") == 1


async def start_report(chat: Direct) -> None:
    await register(chat)
    await chat.send("MENU")
    for message in ("Lapor pilah sampah", "Plastik", "botol PET"):
        await chat.send(message)


WEIGHT_PROMPT = t("report.ask_weight", category="botol PET")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": "dua kilo"}, t("report.weight_invalid", limit="100 kg")),
        ({"text": "0"}, t("report.weight_zero")),
        ({"text": "-2 kg"}, t("report.weight_zero")),
        ({"text": "150 kg"}, t("report.weight_too_heavy", limit="100 kg")),
        ({"text": "🙂"}, t("report.weight_invalid", limit="100 kg")),
        ({"kind": Kind.PHOTO, "photo": "photo-1"}, t("input.unsupported")),
        ({"kind": Kind.CONTACT, "contact": Contact("+6281111111111", "999")}, t("input.unsupported")),
        ({"kind": Kind.STICKER}, t("input.unsupported")),
    ],
)
async def test_a_bad_weight_gets_a_short_answer_and_nothing_is_recorded(
    db: Database, engine: Engine, fields: dict[str, object], expected: str
) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    texts = await chat.texts(**fields)  # type: ignore[arg-type]
    assert texts[0] == expected
    assert await state(db) == "report.weight"
    assert await chat.texts("2,5 kg") == [t("report.ask_more", items="2,5 kg botol PET")]
    assert await count(db, "SELECT count(*) FROM waste_report") == 0


@pytest.mark.parametrize(("typed", "shown"), [
    ("2,5", "2,5 kg"), ("2.5", "2,5 kg"), ("1,5kg", "1,5 kg"), ("500 gr", "500 g"), ("500 gram", "500 g"),
    ("5 ons", "500 g"), ("setengah kilo", "500 g"), ("1/2 kg", "500 g"),
])
async def test_weights_are_understood_as_people_write_them(db: Database, engine: Engine, typed: str, shown: str) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    assert await chat.texts(typed) == [t("report.ask_more", items=f"{shown} botol PET")]


async def test_a_half_finished_report_survives_the_idle_reset_and_is_offered_back(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    await chat.send("2,5 kg")
    async with db.transaction() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        conversation.updated_at -= timedelta(minutes=31)
    assert await chat.texts("Sudah, lanjut") == [t("session.expired", minutes=30), t("menu.ask")]
    assert await chat.texts("Lapor pilah sampah") == [t("report.ask_resume", items="2,5 kg botol PET")]
    assert await chat.texts("Lanjutkan") == [t("report.ask_more", items="2,5 kg botol PET")]


async def test_cancel_drops_the_draft(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    await chat.send("2,5 kg")
    await chat.send("BATAL")
    assert await chat.texts("Lapor pilah sampah") == [t("report.ask_group")]


async def test_the_same_kind_twice_adds_up(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    for message in ("2 kg", "Tambah jenis lain", "Plastik", "botol PET"):
        await chat.send(message)
    assert await chat.texts("500 gram") == [t("report.ask_more", items="2,5 kg botol PET")]


async def test_a_photo_is_kept_with_the_report(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    await chat.send("1 kg")
    await chat.send("Sudah, lanjut")
    await chat.send(kind=Kind.PHOTO, photo="AgACAgIAAxkBAAI")
    await chat.send("Kirim laporan")
    async with db.transaction() as session:
        report = (await session.execute(select(WasteReport))).scalar_one()
    assert report.photo == "AgACAgIAAxkBAAI" and report.status == "reported"


async def test_in_an_rw_without_a_bank_reports_are_recorded_at_city_prices(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await register(chat, kelurahan="Menteng", rw="2")
    await chat.send("MENU")
    for message in ("Lapor pilah sampah", "Kertas", "kardus", "2 kg", "Sudah, lanjut"):
        await chat.send(message)
    texts = await chat.texts("Lewati foto")
    assert t("report.no_bank_prices") in texts
    assert "Rp3.000" in texts[0]  # 2 kg of cardboard at the city's Rp1.500/kg
    assert await chat.texts("Kirim laporan") == [t("report.saved_no_bank"), t("menu.ask")]
    async with db.transaction() as session:
        report = (await session.execute(select(WasteReport))).scalar_one()
    assert report.bank_id is None


async def test_a_bank_price_change_applies_from_its_date_and_keeps_history(db: Database, engine: Engine) -> None:
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank))).scalar_one()
        session.add(Price(bank_id=bank.id, category_code="plastik_pet", rupiah_per_kg=3500, effective_from=date(2026, 1, 1)))
        session.add(Price(bank_id=bank.id, category_code="plastik_pet", rupiah_per_kg=9999, effective_from=date(2099, 1, 1)))
    chat = Direct(engine, db)
    await start_report(chat)
    await chat.send("2 kg")
    await chat.send("Sudah, lanjut")
    summary = (await chat.texts("Lewati foto"))[0]
    assert "Rp3.500/kg = Rp7.000" in summary
    assert await count(db, "SELECT count(*) FROM price WHERE category_code = 'plastik_pet'") == 3


async def test_info_shows_prices_schedule_and_contact_and_help_names_the_coordinator(db: Database, engine: Engine) -> None:
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank))).scalar_one()
        bank.contact = "Bu Rina (pengurus BSU)"
    chat = Direct(engine, db)
    await register(chat)
    info = (await chat.texts("Info bank sampah"))[0]
    assert "Sabtu, pukul 08.00 WIB" in info
    assert "botol PET: Rp3.000" in info and "sampah organik: tidak dibeli" in info
    assert t("info.no_rank", rw="012", kelurahan="Kebon Melati") in info
    assert t("info.contact", contact="Bu Rina (pengurus BSU)") in info
    assert t("info.contact", contact="Bu Rina (pengurus BSU)") in await chat.texts("BANTUAN")


async def test_the_rw_rank_counts_verified_kilograms_this_month(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await start_report(chat)
    for message in ("3 kg", "Sudah, lanjut", "Lewati foto", "Kirim laporan"):
        await chat.send(message)
    async with db.transaction() as session:
        await session.execute(text("UPDATE waste_report SET status = 'verified'"))
    info = (await chat.texts("Info bank sampah"))[0]
    assert t("info.rank", rw="012", rank=1, total=1, kelurahan="Kebon Melati", weight="3 kg") in info


async def test_changing_rw_keeps_savings_with_the_bank_that_holds_them(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db)
    await register(chat)
    async with db.transaction() as session:
        account = (await session.execute(select(Account))).scalar_one()
        session.add(LedgerEntry(account_id=account.id, amount=12_500, kind="deposit"))
    for message in ("Profil saya", "Pindah RW", "Menteng", "1"):
        await chat.send(message)
    texts = await chat.texts("5")
    assert t("register.no_bank") in texts
    assert t("register.savings_stay", amount="Rp12.500", bank="Bank Sampah Unit Melati Bersih (CONTOH)") in texts
    saldo = (await chat.texts("Saldo tabungan"))[0]
    assert "Saldo terverifikasi: Rp12.500" in saldo


async def test_erasure_warns_about_the_balance_and_leaves_no_personal_data(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, user="081299998888")
    await start_report(chat)
    for message in ("2 kg", "Sudah, lanjut"):
        await chat.send(message)
    await chat.send(kind=Kind.PHOTO, photo="photo-of-siti")
    await chat.send("Kirim laporan")
    async with db.transaction() as session:
        account = (await session.execute(select(Account))).scalar_one()
        session.add(LedgerEntry(account_id=account.id, amount=5_000, kind="deposit"))
    await chat.send("Profil saya")
    texts = await chat.texts("Hapus data saya")
    assert texts[0] == t("profile.erase_balance", amount="Rp5.000", bank="Bank Sampah Unit Melati Bersih (CONTOH)")
    erase = inbound(chat.user, "Ya, hapus data saya")
    assert [reply.text for reply in await replies(db, await engine.handle(erase))] == [t("profile.erased")]
    assert (await engine.handle(erase)).status == DUPLICATE  # its record stays, without the person
    await engine_sender_delivers(db)
    dump = await everything(db)
    for personal in ("Siti Aminah", "081299998888", "photo-of-siti"):
        assert personal not in dump, personal
    assert await count(db, "SELECT count(*) FROM waste_report") == 1  # anonymous totals stay
    assert await count(db, "SELECT coalesce(sum(amount), 0) FROM ledger_entry") == 5_000


async def engine_sender_delivers(db: Database) -> None:
    """Deliver whatever the engine left in the outbox through the local transport."""
    sender = Sender(db, [LocalTransport(io.StringIO(), Path("/tmp"))], MemoryLimiter({}), owner="test")
    async with db.transaction() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.status == "pending"))).scalars().all()
    await sender.deliver(rows)


async def everything(db: Database) -> str:
    """Every row of every table as text."""
    parts = []
    async with db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(table.select())).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)
