"""Browsing target RWs and pledging: kota with counts, pages of RWs with status and needs, search by
kelurahan (typos forgiven), an RW in full (offers, progress, supporters by public name or Anonim,
residents' gifts in aggregate); a pledge to Bersama moves the progress bar and reaches the RW's
coordinators; every amount format and every bad amount; an offer taken, closed or filled while the
collaborator was reading is explained, with what is still open."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.engine import Engine
from handlers.messages import Reply
from handlers.text.i18n import translate
from storage import pledges
from storage.db import Database
from storage.models import RW, Account, AuditEntry, Collaborator, Kelurahan, LedgerEntry, Offer, Outbox, Person
from storage.models.roles import COORDINATOR, UPGRADING
from storage.outbox import Priority
from storage.people import identify
from storage.roles import grant_role
from storage.types import utcnow
from tests.support import Direct, register

TERMS = pledges.Terms()
UTAMA, LENGKAP, BERSAMA = "Paket Penataan RW Utama", "Paket Penataan RW Lengkap", "Paket Penataan RW Bersama"
RW14 = "Kebon Melati RW 014, Jakarta Pusat"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


def labels(reply: Reply) -> list[str]:
    return [choice.label for choice in reply.choices]


async def person(db: Database, user: str) -> int:
    async with db.transaction() as session:
        return (await identify(session, f"local:{user}", "local", user, "id", utcnow())).person_id


async def collaborator(db: Database, engine: Engine, user: str, organisation: str | None = None,
                       public: bool = True) -> Direct:
    """A signed-up collaborator (the profile written directly; sign-up has its own tests)."""
    person_id = await person(db, user)
    async with db.transaction() as session:
        found = await session.get(Person, person_id)
        found.consent_at, found.locale_chosen = utcnow(), True
        session.add(Collaborator(person_id=person_id, type="company" if organisation else "individual",
                                 organisation=organisation, contact_name=user.title(), phone="+6281299990000",
                                 public=public))
    return Direct(engine, db, user)


async def offers(db: Database, kelurahan: str = "Kebon Melati", number: int = 14) -> dict[str, int]:
    async with db.transaction() as session:
        statement = (
            select(Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        return dict((await session.execute(statement)).all())


async def pledge(db: Database, who: int, offer_id: int, amount: int) -> pledges.Pledge:
    async with db.transaction() as session:
        made = await pledges.pledge(session, who, offer_id, amount, utcnow(), hold=TERMS.hold,
                                    min_share=TERMS.min_share)
        assert isinstance(made, pledges.Pledge), made
        return made


async def open_rw(chat: Direct, name: str = "Kebon Melati RW 014") -> list[Reply]:
    """From anywhere to one RW of Kebon Melati, by search."""
    await chat.send("MENU")
    await chat.send("Dukung penataan RW")
    await chat.send("kebon melati")
    return await chat.send(name)


async def notices(db: Database, person_id: int) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(select(Outbox.body).where(Outbox.person_id == person_id,
                                                               Outbox.priority == int(Priority.NOTIFY)))
        return [Reply.from_body(body).text for body in rows.scalars()]


# --- Browsing -----------------------------------------------------------------------------------


async def test_everyone_can_browse_jakarta_pusat_page_by_page(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "tamu")
    menu = (await chat.send("/start"))[-1]
    menu = (await chat.send("1"))[-1]
    assert t("menu.upgrading") in labels(menu)
    kota = await chat.send("Dukung penataan RW")
    assert [r.text for r in kota] == [t("browse.ask_kota")]
    assert labels(kota[0]) == ["Jakarta Pusat (34 RW)", t("browse.packages"), t("browse.to_menu")]

    first = (await chat.send("Jakarta Pusat (34 RW)"))[0]
    assert "Jakarta Pusat: 34 RW (halaman 1 dari 5)" in first.text
    assert "• Bungur RW 006 (CONTOH) – Terbuka" in first.text
    assert labels(first)[:8] == ["Bungur RW 006", "Galur RW 004", "Johar Baru RW 001", "Johar Baru RW 002",
                                 "Kampung Bali RW 004", "Kampung Rawa RW 002", "Kampung Rawa RW 003",
                                 "Kampung Rawa RW 004"]
    assert labels(first)[8:] == ["Berikutnya", "Pilih kota lain", "Menu utama"]

    second = (await chat.send("Berikutnya"))[0]
    assert "(halaman 2 dari 5)" in second.text
    assert "• Kebon Melati RW 012 (CONTOH) – Selesai\n   Kebutuhan: Taman/penghijauan, MCK/sanitasi komunal, Gapura" \
        in second.text
    assert labels(second)[7:] == ["Kebon Melati RW 012", "Berikutnya", "Sebelumnya", "Pilih kota lain", "Menu utama"]
    assert "(halaman 1 dari 5)" in (await chat.send("Sebelumnya"))[0].text
    for _ in range(4):
        last = (await chat.send("Berikutnya"))[0]
    assert "(halaman 5 dari 5)" in last.text
    assert len([label for label in labels(last) if " RW " in label]) == 2
    assert "Berikutnya" not in labels(last)
    assert (await chat.send("Menu utama"))[-1].text == t("menu.ask")


async def test_the_package_types_are_explained_from_the_kota_step(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "budi")
    await chat.send("MENU")
    await chat.send("Dukung penataan RW")
    info, again = await chat.texts("Tentang paket")
    assert "Paket Penataan RW Utama" in info and "Rp1.000.000.000 – Rp2.500.000.000" in info
    assert "Pekerjaan: Taman/penghijauan, Mural, Gapura, Sumur resapan" in info
    assert "mulai dari Rp1.000.000" in info
    assert again == t("browse.ask_kota")


@pytest.mark.parametrize("typed", ["kebon melati", "Kebon Mlati"])
async def test_a_kelurahan_typed_at_the_kota_or_list_step_lists_its_target_rws(
    db: Database, engine: Engine, typed: str
) -> None:
    chat = await collaborator(db, engine, "budi")
    await chat.send("MENU")
    await chat.send("Dukung penataan RW")
    found = (await chat.send(typed))[0]
    assert "RW sasaran di Kelurahan Kebon Melati: 2 RW (halaman 1 dari 1)" in found.text
    assert labels(found) == ["Kebon Melati RW 012", "Kebon Melati RW 014", "Pilih kota lain", "Menu utama"]
    await chat.send("Pilih kota lain")
    await chat.send("Jakarta Pusat (34 RW)")
    assert "Kelurahan Kebon Melati: 2 RW" in (await chat.send(typed))[0].text  # from the list step too


async def test_a_typed_rw_opens_that_rw_and_never_a_similar_one(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "budi")
    await chat.send("MENU")
    await chat.send("Dukung penataan RW")
    await chat.send("Jakarta Pusat (34 RW)")
    page = (await chat.send("Berikutnya"))[0]
    assert "Kebon Melati RW 012" in labels(page) and "Kebon Melati RW 014" not in labels(page)
    detail = (await chat.send("Kebon Melati RW 014"))[0]
    assert detail.text.startswith("Kebon Melati RW 014 (CONTOH)")
    assert "Kelurahan Kebon Melati: 2 RW" in (await chat.texts("Kembali ke daftar"))[0]
    assert (await chat.send("2"))[0].text.startswith("Kebon Melati RW 014")  # by its number in the list
    await chat.send("Menu utama")
    await chat.send("Dukung penataan RW")
    assert (await chat.send("kebon mlati rw 12"))[0].text.startswith("Kebon Melati RW 012 (CONTOH)")


async def test_a_kelurahan_without_target_rws_or_an_unknown_name_is_said_plainly(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "budi")
    await chat.send("MENU")
    await chat.send("Dukung penataan RW")
    assert await chat.texts("Gambir") == [t("browse.search_none", kelurahan="Gambir")]
    assert await chat.texts("Qwertyuiop") == [t("browse.search_unknown", query="Qwertyuiop")]
    assert "Jakarta Pusat: 34 RW" in (await chat.texts("Jakarta Pusat (34 RW)"))[0]  # still at the kota step


async def test_an_rw_shows_its_place_offers_progress_and_supporters(db: Database, engine: Engine) -> None:
    found = await offers(db)
    await collaborator(db, engine, "maju", organisation="PT Maju Jaya", public=True)
    hidden = await collaborator(db, engine, "hamba", public=False)
    async with db.transaction() as session:
        ids = [(await session.execute(select(Person.id).join(Collaborator).where(Collaborator.contact_name == n)))
               .scalar_one() for n in ("Maju", "Hamba")]
    await pledge(db, ids[0], found["bersama"], 25_000_000)
    await pledge(db, ids[1], found["bersama"], 10_000_000)
    resident = Direct(engine, db, "siti")
    await register(resident)  # Kebon Melati RW 12
    async with db.transaction() as session:
        account = (await session.execute(select(Account))).scalars().first()
        siti = account.person_id
        session.add(LedgerEntry(account_id=account.id, amount=50_000, kind="deposit"))
    async with db.transaction() as session:
        rw12 = (await session.execute(select(RW.id).join(Kelurahan).where(Kelurahan.name == "Kebon Melati",
                                                                          RW.number == 12))).scalar_one()
        gift = await pledges.give_savings(session, siti, account.id, found["bersama"], 10_000, utcnow(), rw12)
        assert isinstance(gift, pledges.Pledge)

    detail, question = await open_rw(hidden)
    text = detail.text
    assert text.startswith("Kebon Melati RW 014 (CONTOH)\nKelurahan Kebon Melati, Kecamatan Tanah Abang, Jakarta Pusat")
    assert "Status: Sebagian terdanai" in text
    assert "Jumlah KK: belum ada data · Jiwa: belum ada data" in text
    assert "Kebutuhan utama: belum ada data" in text
    assert f"{UTAMA}\nTarget: Rp1.500.000.000\nPekerjaan: Jalan lingkungan, Drainase" in text
    assert f"{BERSAMA}\nTarget: Rp150.000.000" in text
    assert text.count(t("browse.offer_assumed")) == 1
    assert "Terkumpul: Rp35.010.000\n▓▓░░░░░░░░ 23%" in text
    assert "Pendukung:\n• PT Maju Jaya – Rp25.000.000\n• Anonim – Rp10.000.000\n" \
           "• Warga RW 012 (sedekah sampah) – Rp10.000" in text
    assert "Siti" not in text and "Hamba" not in text
    assert question.text == t("browse.rw_ask")
    assert labels(question) == [f"Dukung {UTAMA}", f"Dukung {LENGKAP}", f"Dukung {BERSAMA}", "Kembali ke daftar",
                                "Menu utama"]
    assert "Kelurahan Kebon Melati: 2 RW" in (await hidden.texts("Kembali ke daftar"))[0]


async def test_an_rw_whose_works_are_done_takes_no_pledges(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "budi")
    detail, question = await open_rw(chat, "Kebon Melati RW 012")
    assert "Status: Selesai" in detail.text
    assert "Kebutuhan utama: Taman/penghijauan, MCK/sanitasi komunal, Gapura" in detail.text
    assert detail.text.count("Status: Tidak menerima ikrar lagi") == 3
    assert "Belum ada pendukung" in detail.text
    assert question.text == t("browse.rw_ask_closed")
    assert labels(question) == ["Kembali ke daftar", "Menu utama"]


# --- Pledging -----------------------------------------------------------------------------------


async def test_a_bersama_pledge_is_held_moves_the_progress_bar_and_reaches_the_coordinators(
    db: Database, engine: Engine
) -> None:
    chat = await collaborator(db, engine, "budi", organisation="PT Maju Jaya")
    coordinator = await person(db, "koord")
    async with db.transaction() as session:
        rw14 = (await session.get(Offer, (await offers(db))["bersama"])).rw_id
        await grant_role(session, coordinator, COORDINATOR, utcnow(), strand=UPGRADING, rw_ids=[rw14])
    await open_rw(chat)
    assert await chat.texts(f"Dukung {BERSAMA}") == [
        t("pledge.ask_amount", package=BERSAMA, rw=RW14, minimum="Rp1.000.000", remaining="Rp150.000.000")]
    assert await chat.texts("Rp 25.000.000") == [
        t("pledge.ask_confirm", rw=RW14, package=BERSAMA, amount="Rp25.000.000", hours=72)]
    done = await chat.texts("Ya, kirim ikrar")
    year = utcnow().year
    assert done == [t("pledge.recorded", amount="Rp25.000.000", package=BERSAMA, rw=RW14,
                      reference=f"KSBB-{year}-000001", hours=72, pledged="Rp25.000.000", target="Rp150.000.000",
                      bar="▓░░░░░░░░░ 16%"), t("menu.ask")]

    detail = (await open_rw(chat))[0].text
    assert "Terkumpul: Rp25.000.000\n▓░░░░░░░░░ 16%" in detail
    assert "• PT Maju Jaya – Rp25.000.000" in detail
    told = await notices(db, coordinator)
    assert told == [t("pledge.coordinator_notice", who="PT Maju Jaya", amount="Rp25.000.000", package=BERSAMA,
                      rw=RW14, reference=f"KSBB-{year}-000001", hours=72)]
    assert "8129999" not in told[0]
    async with db.transaction() as session:
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "pledge"))).scalar_one()
    assert (entry.outcome, entry.target, entry.detail) == ("held", "pledge:1", {"amount": 25_000_000})


@pytest.mark.parametrize("typed, shown", [
    ("5000000", "Rp5.000.000"), ("5.000.000", "Rp5.000.000"), ("Rp 5.000.000", "Rp5.000.000"),
    ("Rp 5.000.000,-", "Rp5.000.000"), ("5 juta", "Rp5.000.000"), ("5jt", "Rp5.000.000"),
    ("2,5 juta", "Rp2.500.000"),
])
async def test_every_usual_way_of_writing_an_amount_is_understood(
    db: Database, engine: Engine, typed: str, shown: str
) -> None:
    chat = await collaborator(db, engine, "budi")
    await open_rw(chat)
    await chat.send(f"Dukung {BERSAMA}")
    assert await chat.texts(typed) == [t("pledge.ask_confirm", rw=RW14, package=BERSAMA, amount=shown, hours=72)]
    back = await chat.texts("Tidak jadi")
    assert back[0] == t("pledge.not_sent") and back[1].startswith("Kebon Melati RW 014")


async def test_every_bad_amount_gets_a_short_answer_with_the_numbers(db: Database, engine: Engine) -> None:
    found = await offers(db)
    await pledge(db, await person(db, "other"), found["bersama"], 120_000_000)  # Rp30.000.000 remains
    chat = await collaborator(db, engine, "budi")
    await open_rw(chat)
    await chat.send(f"Dukung {BERSAMA}")
    minimum = {"minimum": "Rp1.000.000"}
    assert await chat.texts("0") == [t("pledge.amount_zero", **minimum)]
    assert await chat.texts("-5 juta") == [t("pledge.amount_negative", **minimum)]
    assert await chat.texts("lima juta") == [t("pledge.amount_invalid", **minimum)]
    assert await chat.texts("5 ekor") == [t("pledge.amount_invalid", **minimum)]
    assert await chat.texts("200 miliar") == [t("pledge.amount_absurd", remaining="Rp30.000.000")]
    assert await chat.texts("500rb") == [t("pledge.below_minimum", amount="Rp500.000", minimum="Rp1.000.000")]
    assert await chat.texts("31 juta") == [t("pledge.above_remaining", amount="Rp31.000.000", remaining="Rp30.000.000")]
    assert await chat.texts("30 juta") == [t("pledge.ask_confirm", rw=RW14, package=BERSAMA, amount="Rp30.000.000",
                                             hours=72)]


async def test_the_minimum_is_what_remains_when_less_than_a_share_remains(db: Database, engine: Engine) -> None:
    found = await offers(db)
    await pledge(db, await person(db, "other"), found["bersama"], 149_500_000)
    chat = await collaborator(db, engine, "budi")
    await open_rw(chat)
    assert await chat.texts(f"Dukung {BERSAMA}") == [
        t("pledge.ask_amount", package=BERSAMA, rw=RW14, minimum="Rp500.000", remaining="Rp500.000")]
    assert await chat.texts("500rb") == [t("pledge.ask_confirm", rw=RW14, package=BERSAMA, amount="Rp500.000",
                                           hours=72)]


async def test_utama_taken_closes_lengkap_and_the_second_collaborator_is_offered_what_is_open(
    db: Database, engine: Engine
) -> None:
    first = await collaborator(db, engine, "budi", organisation="PT Maju Jaya")
    second = await collaborator(db, engine, "ani", organisation="Yayasan Peduli")
    await open_rw(first)
    await open_rw(second)
    assert await first.texts(f"Dukung {UTAMA}") == [
        t("pledge.ask_confirm_whole", rw=RW14, package=UTAMA, amount="Rp1.500.000.000", hours=72)]
    assert await second.texts(f"Dukung {LENGKAP}") == [
        t("pledge.ask_confirm_whole", rw=RW14, package=LENGKAP, amount="Rp750.000.000", hours=72)]
    recorded = await first.texts("Ya, kirim ikrar")
    assert recorded[0] == t("pledge.recorded_whole", amount="Rp1.500.000.000", package=UTAMA, rw=RW14,
                            reference=f"KSBB-{utcnow().year}-000001", hours=72)

    told, detail, question = await second.send("Ya, kirim ikrar")
    assert told.text == t("pledge.alternative_taken", package=LENGKAP)
    assert f"{UTAMA}\nTarget: Rp1.500.000.000" in detail.text and "Status: Sudah diambil kolaborator" in detail.text
    assert "Status: Tertutup, karena paket pilihan lainnya sudah diambil" in detail.text
    assert labels(question) == [f"Dukung {BERSAMA}", "Kembali ke daftar", "Menu utama"]
    async with db.transaction() as session:
        outcomes = (await session.execute(select(AuditEntry.outcome).where(AuditEntry.action == "pledge")
                                          .order_by(AuditEntry.id))).scalars().all()
    assert outcomes == ["held", pledges.ALTERNATIVE_TAKEN]


async def test_a_whole_offer_taken_before_it_is_chosen_is_explained(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "ani")
    await open_rw(chat)  # the RW was shown with Utama open …
    await pledge(db, await person(db, "other"), (await offers(db))["utama"], 1_500_000_000)
    told, detail, question = await chat.send(f"Dukung {UTAMA}")  # … and taken meanwhile
    assert told.text == t("pledge.taken", package=UTAMA)
    assert labels(question) == [f"Dukung {BERSAMA}", "Kembali ke daftar", "Menu utama"]


async def test_an_offer_filled_between_viewing_and_confirming(db: Database, engine: Engine) -> None:
    found = await offers(db)
    chat = await collaborator(db, engine, "budi")
    await open_rw(chat)
    await chat.send(f"Dukung {BERSAMA}")
    await chat.send("30 juta")
    await pledge(db, await person(db, "a"), found["bersama"], 140_000_000)  # only Rp10.000.000 left
    assert await chat.texts("Ya, kirim ikrar") == [
        t("pledge.remaining_changed", remaining="Rp10.000.000"),
        t("pledge.ask_amount", package=BERSAMA, rw=RW14, minimum="Rp1.000.000", remaining="Rp10.000.000")]
    await chat.send("10 juta")
    await pledge(db, await person(db, "b"), found["bersama"], 10_000_000)  # now full
    told, detail, question = await chat.send("Ya, kirim ikrar")
    assert told.text == t("pledge.full", package=BERSAMA)
    assert "Status: Target sudah terpenuhi" in detail.text and "▓▓▓▓▓▓▓▓▓▓ 100%" in detail.text
    assert labels(question) == [f"Dukung {UTAMA}", f"Dukung {LENGKAP}", "Kembali ke daftar", "Menu utama"]
    async with db.transaction() as session:
        mine = await pledges.of_person(session, await person(db, "budi"))
    assert mine == []


async def test_someone_new_signs_up_on_the_way_and_the_chosen_offer_is_kept(db: Database, engine: Engine) -> None:
    chat = Direct(engine, db, "budi")
    await chat.send("/start")
    await chat.send("1")
    await chat.send("Dukung penataan RW")
    await chat.send("Kebon Mlati")
    await chat.send("Kebon Melati RW 014")
    assert await chat.texts(f"Dukung {BERSAMA}") == [t("collab.notice"), t("register.ask_consent")]
    for answer in ("Setuju", "Perusahaan (CSR)", "PT Maju Jaya", "Budi Santoso", "0812-3456-7890", "Lewati"):
        await chat.send(answer)
    assert await chat.texts("Ya, tampilkan") == [
        t("collab.done", name="PT Maju Jaya"),
        t("pledge.ask_amount", package=BERSAMA, rw=RW14, minimum="Rp1.000.000", remaining="Rp150.000.000")]
    await chat.send("25 juta")
    assert (await chat.texts("Ya, kirim ikrar"))[0].endswith("▓░░░░░░░░░ 16%")


async def test_browsing_and_pledging_in_english(db: Database, engine: Engine) -> None:
    chat = await collaborator(db, engine, "john", organisation="Acme")
    async with db.transaction() as session:
        (await session.get(Person, await person(db, "john"))).locale = "en"
    await chat.send("MENU")
    kota = await chat.send("Support RW upgrading")
    assert labels(kota[0])[0] == "Jakarta Pusat (34 RWs)"
    await chat.send("kebon melati")
    detail, _ = await chat.send("Kebon Melati RW 014")
    works = ", ".join(translate("en", f"work.{code}") for code in ("jalan_lingkungan", "drainase"))
    assert f"Work items: {works}" in detail.text and "IDR 150,000,000" in detail.text
    await chat.send(f"Support {BERSAMA}")
    assert "IDR 25,000,000" in (await chat.texts("25 juta"))[0]
