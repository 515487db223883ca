"""Coordinators registering waste banks and keeping their prices and weighing schedules, through the
engine: bad input at each step, RWs already served, scope refused and audited, price history."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from handlers.coordinator.banks import parse_rw_numbers
from handlers.dialog.parsing import ParseError, parse_date
from handlers.text.formatting import date_long
from handlers.text.i18n import translate
from storage import banks
from storage.clock import today
from storage.db import Database
from storage.models import (
    Account,
    AuditEntry,
    Price,
    WasteBank,
    WasteBankRW,
    WasteReport,
)
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.roles import grant_role, hand_over
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct

KEBON_MELATI = "31.71.07.1005"
SAMPLE = "Bank Sampah Unit Melati Bersih (CONTOH)"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def rw_id(db: Database, number: int) -> int:
    async with db.transaction() as session:
        return (await get_or_create_rw(session, KEBON_MELATI, number)).id


async def person(db: Database, name: str, rw: int | None = None) -> int:
    """A consented person who chose a language, optionally living in an RW of Kebon Melati."""
    now = utcnow()
    async with db.transaction() as session:
        identity = await identify(session, f"local:{name}", "local", name, "id", now)
        who = identity.person
        who.locale_chosen, who.name, who.consent_at, who.consent_version = True, name.title(), now, "2026-11"
        if rw is not None:
            who.rw_id = (await get_or_create_rw(session, KEBON_MELATI, rw)).id
        return who.id


async def staff(db: Database, name: str, role: str = COORDINATOR, strand: str | None = WASTE,
                rws: tuple[int, ...] = ()) -> int:
    person_id = await person(db, name)
    rw_ids = [await rw_id(db, number) for number in rws]
    async with db.transaction() as session:
        await grant_role(session, person_id, role, utcnow(), strand=strand if role == COORDINATOR else None,
                         rw_ids=rw_ids)
    return person_id


async def open_entry(engine: Engine, db: Database, user: str, entry: str) -> list[str]:
    """Main menu, coordinator menu, then the entry; the texts the entry answered."""
    chat = Direct(engine, db, user)
    await chat.send("MENU")
    await chat.send("Menu koordinator")
    return await chat.texts(entry)


async def person_id_of(db: Database, user: str) -> int:
    async with db.transaction() as session:
        return (await identify(session, f"local:{user}", "local", user, "id", utcnow())).person_id


async def audits(db: Database, action: str) -> list[tuple[str, dict[str, object]]]:
    async with db.transaction() as session:
        statement = select(AuditEntry.outcome, AuditEntry.detail).where(AuditEntry.action == action)
        return [(outcome, detail) for outcome, detail in (await session.execute(statement.order_by(AuditEntry.id)))]


# --- Parsers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "numbers"), [
    ("12, 14", [12, 14]), ("12 dan 14", [12, 14]), ("RW 12/RW 14", [12, 14]), ("12 14", [12, 14]),
    ("014; 12 & 12", [12, 14]), ("rw 5", [5]), ("3,4,5", [3, 4, 5]),
])
def test_rw_lists_are_read_as_people_write_them(text: str, numbers: list[int]) -> None:
    assert parse_rw_numbers(text) == numbers


@pytest.mark.parametrize("text", ["", "dua belas", "12, 100", "0", "12, RT", ",", "12 RW"])
def test_unreadable_rw_lists_are_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rw_numbers(text)


TODAY = date(2026, 12, 3)  # a Thursday


@pytest.mark.parametrize(("text", "day"), [
    ("hari ini", TODAY), ("besok", date(2026, 12, 4)), ("lusa", date(2026, 12, 5)), ("Sabtu", date(2026, 12, 5)),
    ("Kamis", TODAY), ("6/12", date(2026, 12, 6)), ("1 Januari", date(2027, 1, 1)), ("2026-12-24", date(2026, 12, 24)),
    ("1/12", date(2026, 12, 1)),  # the nearest 1 December, which has passed: the flow refuses it
])
def test_dates_are_read_without_a_time(text: str, day: date) -> None:
    assert parse_date(text, TODAY) == day


@pytest.mark.parametrize(("text", "reason"), [
    ("besok 08.00", "not_a_time"), ("12", "not_a_time"), ("kapan-kapan", "not_a_time"), ("", "not_a_time"),
    ("Sabtu 4 Desember 2026", "weekday_mismatch"), ("1 Des 2025", "in_the_past"),
])
def test_unreadable_dates_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_date(text, TODAY)
    assert raised.value.reason == reason


# --- Who may do what ------------------------------------------------------------------------


@pytest.fixture
async def people(db: Database) -> None:
    """A resident of RW 12, a waste coordinator of RW 12 (the sample bank's RW), one of RWs 14 and 15
    (no bank), an upgrading coordinator of RW 12, an admin."""
    await person(db, "warga", rw=12)
    await staff(db, "koord12", rws=(12,))
    await staff(db, "koord14", rws=(14, 15))
    await staff(db, "tata12", strand=UPGRADING, rws=(12,))
    await staff(db, "admin", role=ADMIN)


ACCESS = [
    # (who, menu entry, first answer)
    ("koord12", "Atur harga", "price.ask_category"),
    ("koord14", "Atur harga", "bank.none_in_scope"),
    ("tata12", "Atur harga", "access.denied"),
    ("admin", "Atur harga", "price.ask_category"),
    ("koord12", "Atur jadwal penimbangan", "schedule.ask"),
    ("koord14", "Atur jadwal penimbangan", "bank.none_in_scope"),
    ("tata12", "Atur jadwal penimbangan", "access.denied"),
    ("admin", "Atur jadwal penimbangan", "schedule.ask"),
    ("koord12", "Daftarkan bank sampah", "bank.ask_name"),
    ("koord14", "Daftarkan bank sampah", "bank.ask_name"),
    ("tata12", "Daftarkan bank sampah", "access.denied"),
    ("admin", "Daftarkan bank sampah", "bank.ask_name"),
]


async def test_who_may_open_which_bank_action(db: Database, engine: Engine, people: None) -> None:
    for who, entry, expected in ACCESS:
        texts = await open_entry(engine, db, who, entry)
        assert texts[0].startswith(t(expected).split("{")[0]), (who, entry)
    denied = await count(db, "SELECT count(*) FROM audit_log WHERE outcome = 'denied'")
    assert denied == sum(expected == "access.denied" for _, _, expected in ACCESS)


async def test_a_resident_sees_no_coordinator_menu_and_cannot_open_it(db: Database, engine: Engine, people: None) -> None:
    chat = Direct(engine, db, "warga")
    menu = await chat.send("MENU")
    assert t("menu.coordinate") not in [choice.label for choice in menu[0].choices]
    assert await chat.texts("Menu koordinator") == [t("choice.invalid"), t("menu.ask")]
    assert await count(db, "SELECT count(*) FROM audit_log WHERE outcome = 'ok'") == 0


# --- Registering a bank ---------------------------------------------------------------------


async def start_registering(engine: Engine, db: Database, user: str) -> Direct:
    chat = Direct(engine, db, user)
    await open_entry(engine, db, user, "Daftarkan bank sampah")
    await chat.send("BSU Anggrek Lestari")
    await chat.send("Jl. Kebon Melati III No. 7")
    return chat


async def test_a_coordinator_registers_a_bank_for_their_rws_and_residents_join_it_lazily(
    db: Database, engine: Engine, people: None
) -> None:
    await person(db, "budi", rw=14)  # registered before the bank existed: no account yet
    chat = await start_registering(engine, db, "koord14")
    assert await chat.texts("Kebon Melati") == [t("bank.ask_rws", kelurahan="Kebon Melati")]
    assert await chat.texts("14, 15") == [t("bank.ask_schedule")]
    [summary] = await chat.texts("Sabtu 09.00")
    assert "Melayani: Kebon Melati RW 014, 015" in summary and "setiap Sabtu, pukul 09.00 WIB" in summary
    texts = await chat.texts("Ya, daftarkan")
    assert texts[0] == t("bank.registered", name="BSU Anggrek Lestari", rws="014, 015")
    assert texts[1] == t("coord.ask")
    served = [await rw_id(db, 14), await rw_id(db, 15)]
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank).where(WasteBank.name == "BSU Anggrek Lestari"))).scalar_one()
        assert (bank.weighing_weekday, bank.weighing_time, bank.address) == (5, time(9, 0), "Jl. Kebon Melati III No. 7")
        assert sorted((await session.execute(select(WasteBankRW.rw_id).where(WasteBankRW.bank_id == bank.id))).scalars()) == served
        assert (await session.execute(select(Account))).first() is None
    assert [outcome for outcome, _ in await audits(db, "register_bank")] == ["ok"]
    budi = Direct(engine, db, "budi")
    for message in ("MENU", "Lapor pilah sampah", "Kertas", "kardus", "2 kg", "Sudah, lanjut", "Lewati foto"):
        await budi.send(message)
    assert await budi.texts("Kirim laporan") == [t("report.saved", bank="BSU Anggrek Lestari"), t("menu.ask")]
    async with db.transaction() as session:
        account = (await session.execute(select(Account))).scalar_one()
        assert (account.bank_id, account.member_number) == (bank.id, 1001)


async def test_an_rw_already_served_is_refused_and_nothing_is_registered(db: Database, engine: Engine, people: None) -> None:
    chat = await start_registering(engine, db, "admin")
    await chat.send("Kebon Melati")
    assert await chat.texts("12, 14") == [t("bank.rws_served", rws="012", bank=SAMPLE), t("bank.ask_rws", kelurahan="Kebon Melati")]
    assert await count(db, "SELECT count(*) FROM waste_bank") == 1
    assert await audits(db, "register_bank") == [("refused", {"reason": "rw_served"})]
    assert await chat.texts("14") == [t("bank.ask_schedule")]


async def test_a_coordinator_naming_rws_outside_their_scope_is_refused_and_audited(
    db: Database, engine: Engine, people: None
) -> None:
    chat = await start_registering(engine, db, "koord14")
    await chat.send("Kebon Melati")
    assert await chat.texts("14, 16") == [t("access.denied"), t("bank.ask_rws", kelurahan="Kebon Melati")]
    [(outcome, detail)] = await audits(db, "register_bank")
    assert outcome == "denied" and detail["rws"] == [await rw_id(db, 14), await rw_id(db, 16)]
    assert await count(db, "SELECT count(*) FROM waste_bank") == 1


BAD_REGISTRATION = [
    # (step reached by, answer, expected reply, audited reason or None)
    ((), "A", "bank.name_invalid", None),
    ((), "1234", "bank.name_invalid", None),
    (("Bank Sampah Mawar",), "Jl", "bank.address_invalid", None),
    (("Jl. Mawar 1", "Kebon Melati"), "dua belas", "bank.rws_unreadable", "not_a_number"),
    ((), "12, 100", "bank.rws_unreadable", "out_of_range"),
    (("14",), "kapan-kapan", "bank.schedule_unreadable", "not_a_time"),
    ((), "08.00", "bank.schedule_no_day", "missing_weekday"),
    ((), "Sabtu", "bank.schedule_no_time", "missing_time"),
    ((), "Sabtu 25.00", "bank.schedule_unreadable", "not_a_time"),
    ((), "besok 08.00", "bank.schedule_unreadable", "not_a_time"),
]


async def test_bad_input_at_each_registration_step_is_refused_audited_and_loses_nothing(
    db: Database, engine: Engine, people: None
) -> None:
    chat = Direct(engine, db, "koord14")
    await open_entry(engine, db, "koord14", "Daftarkan bank sampah")
    for before, answer, expected, _ in BAD_REGISTRATION:
        for message in before:
            await chat.send(message)
        assert await chat.texts(answer) == [t(expected)], answer
    assert await audits(db, "register_bank") == [
        ("refused", {"reason": reason}) for _, _, _, reason in BAD_REGISTRATION if reason]
    [summary] = await chat.texts("Atur jadwal nanti")
    assert "Nama: Bank Sampah Mawar" in summary and "Penimbangan: belum ada jadwal" in summary
    await chat.send("Ya, daftarkan")
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank).where(WasteBank.name == "Bank Sampah Mawar"))).scalar_one()
        assert (bank.address, bank.weighing_weekday, bank.weighing_time) == ("Jl. Mawar 1", None, None)


# --- Schedules ------------------------------------------------------------------------------


async def test_a_coordinator_sets_the_weighing_schedule(db: Database, engine: Engine, people: None) -> None:
    chat = Direct(engine, db, "koord12")
    [ask] = await open_entry(engine, db, "koord12", "Atur jadwal penimbangan")
    assert ask == t("schedule.ask", bank=SAMPLE, schedule="setiap Sabtu, pukul 08.00 WIB")
    texts = await chat.texts("Minggu jam 7.30 pagi")
    assert texts[0] == t("schedule.saved", bank=SAMPLE, before="setiap Sabtu, pukul 08.00 WIB",
                         schedule="setiap Minggu, pukul 07.30 WIB")
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank))).scalar_one()
        assert (bank.weighing_weekday, bank.weighing_time) == (6, time(7, 30))
    assert await audits(db, "set_schedule") == [("ok", {"weekday": 6, "time": "07:30"})]


BAD_SCHEDULES = [
    ("kapan saja", "bank.schedule_unreadable", "not_a_time"),
    ("jam 8", "bank.schedule_no_day", "missing_weekday"),
    ("setiap Sabtu", "bank.schedule_no_time", "missing_time"),
    ("6/12 08.00", "bank.schedule_unreadable", "not_a_time"),
    ("Sabtu 08.00-25.00", "bank.schedule_unreadable", "not_a_time"),
]


async def test_a_bad_schedule_is_refused_audited_and_changes_nothing(db: Database, engine: Engine, people: None) -> None:
    chat = Direct(engine, db, "koord12")
    await open_entry(engine, db, "koord12", "Atur jadwal penimbangan")
    for answer, expected, _ in BAD_SCHEDULES:
        assert await chat.texts(answer) == [t(expected)], answer
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank))).scalar_one()
        assert (bank.weighing_weekday, bank.weighing_time) == (5, time(8, 0))
    assert await audits(db, "set_schedule") == [("refused", {"reason": reason}) for _, _, reason in BAD_SCHEDULES]
    assert (await chat.texts("Sabtu 09.00"))[0].startswith("Jadwal penimbangan")


# --- Prices ---------------------------------------------------------------------------------


async def start_price(engine: Engine, db: Database, user: str = "koord12") -> Direct:
    chat = Direct(engine, db, user)
    await open_entry(engine, db, user, "Atur harga")
    await chat.send("botol PET")
    return chat


BAD_PRICES = [
    ("0", "price.zero", "zero"),
    ("Rp 0", "price.zero", "zero"),
    ("-3000", "price.zero", "negative"),
    ("tiga ribu", "price.unreadable", "not_a_number"),
    ("abc", "price.unreadable", "not_a_number"),
    ("2 juta", "price.too_high", "too_much"),
    ("3,5", "price.too_low", "too_little"),
]


async def test_a_bad_price_is_refused_audited_and_stores_nothing(db: Database, engine: Engine, people: None) -> None:
    chat = await start_price(engine, db)
    for answer, expected, _ in BAD_PRICES:
        assert await chat.texts(answer) == [t(expected, limit="Rp1.000.000", minimum="Rp50")], answer
    assert await audits(db, "set_prices") == [("refused", {"reason": reason}) for _, _, reason in BAD_PRICES]
    assert await count(db, "SELECT count(*) FROM price WHERE bank_id IS NOT NULL") == 0
    assert await chat.texts("3.500") == [t("price.ask_date")]


async def test_a_past_or_far_date_is_refused(db: Database, engine: Engine, people: None) -> None:
    chat = await start_price(engine, db)
    await chat.send("3.500")
    day = today(utcnow())
    yesterday = day - timedelta(days=1)
    assert await chat.texts(f"{yesterday.day}/{yesterday.month}/{yesterday.year}") == [
        t("price.date_past", today=date_long(day, "id"))]
    far = day + timedelta(days=400)
    assert await chat.texts(f"{far.day}/{far.month}/{far.year}") == [t("price.date_too_far")]
    assert await chat.texts("kapan-kapan") == [t("price.date_unreadable")]
    assert [detail["reason"] for _, detail in await audits(db, "set_prices")] == ["in_the_past", "too_far", "not_a_time"]


async def test_prices_keep_their_history_and_reports_use_the_price_in_force(
    db: Database, engine: Engine, people: None
) -> None:
    day = today(utcnow())
    chat = await start_price(engine, db)
    await chat.send("4.000")
    [confirm] = await chat.texts("Mulai besok")
    assert confirm == t("price.ask_confirm", category="botol PET", bank=SAMPLE, old="Rp3.000", new="Rp4.000",
                        date=date_long(day + timedelta(days=1), "id"))
    texts = await chat.texts("Simpan")
    assert texts[0] == t("price.saved", category="botol PET", price="Rp4.000", date=date_long(day + timedelta(days=1), "id"))
    assert texts[1].startswith(t("price.ask_category", bank=SAMPLE, date=date_long(day, "id"), lines="")[:40])
    assert "botol PET: Rp3.000" in texts[1]  # tomorrow's price is not in force today
    await chat.send("botol PET")
    await chat.send("3.500")
    await chat.send("Mulai hari ini")
    await chat.send("Simpan")
    async with db.transaction() as session:
        bank = (await session.execute(select(WasteBank))).scalar_one()
        rows = (await session.execute(
            select(Price.effective_from, Price.rupiah_per_kg)
            .where(Price.category_code == "plastik_pet").order_by(Price.effective_from)
        )).all()
        assert [tuple(row) for row in rows] == [(date(2026, 1, 1), 3000), (day, 3500), (day + timedelta(days=1), 4000)]
        assert (await banks.price_list(session, bank.id, day))["plastik_pet"] == 3500
        assert (await banks.price_list(session, bank.id, day + timedelta(days=1)))["plastik_pet"] == 4000
    warga = Direct(engine, db, "warga")
    for message in ("MENU", "Lapor pilah sampah", "Plastik", "botol PET", "2 kg", "Sudah, lanjut"):
        await warga.send(message)
    summary = (await warga.texts("Lewati foto"))[0]
    assert "Rp3.500/kg = Rp7.000" in summary
    await warga.send("Kirim laporan")
    async with db.transaction() as session:
        report = (await session.execute(select(WasteReport))).scalar_one()
        await session.refresh(report, ["items"])
        assert report.items[0].rupiah_per_kg == 3500
    assert [outcome for outcome, _ in await audits(db, "set_prices")] == ["ok", "ok"]


async def test_a_second_price_for_the_same_date_corrects_it_and_the_audit_keeps_the_old_one(
    db: Database, engine: Engine, people: None
) -> None:
    for amount in ("35.000", "3.500"):
        chat = await start_price(engine, db)
        await chat.send(amount)
        await chat.send("Mulai besok")
        await chat.send("Simpan")
    assert await count(db, "SELECT count(*) FROM price WHERE bank_id IS NOT NULL") == 1
    assert [detail["replaced"] for _, detail in await audits(db, "set_prices")] == [None, 35000]


async def test_a_coordinator_whose_rw_was_handed_over_mid_flow_is_refused_and_audited(
    db: Database, engine: Engine, people: None
) -> None:
    chat = await start_price(engine, db)
    await chat.send("3.500")
    await chat.send("Mulai besok")
    koord14, rw12 = await person_id_of(db, "koord14"), await rw_id(db, 12)
    async with db.transaction() as session:
        await hand_over(session, rw12, WASTE, koord14, utcnow())
    assert await chat.texts("Simpan") == [t("access.denied"), t("coord.ask")]
    assert [outcome for outcome, _ in await audits(db, "set_prices")] == ["denied"]
    assert await count(db, "SELECT count(*) FROM price WHERE bank_id IS NOT NULL") == 0


async def test_a_coordinator_of_two_banks_chooses_one_by_button_or_by_name(db: Database, engine: Engine) -> None:
    await staff(db, "koord", rws=(12, 14))
    rw14 = await rw_id(db, 14)
    async with db.transaction() as session:
        session.add(WasteBank(name="BSU Kenanga", rws=[WasteBankRW(rw_id=rw14)]))
    chat = Direct(engine, db, "koord")
    [ask] = await open_entry(engine, db, "koord", "Atur jadwal penimbangan")
    assert ask == t("bank.ask_choose")
    assert await chat.texts("zzzz") == [t("bank.not_found", text="zzzz")]
    [schedule] = await chat.texts("kenanga")
    assert schedule == t("schedule.ask", bank="BSU Kenanga", schedule="belum ada jadwal")
