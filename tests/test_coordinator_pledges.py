"""The upgrading coordinator's side of pledges: confirming (the collaborator receives the payment
instructions and a commitment letter naming RW, package, amount, date and reference), rejecting with
a reason, moving a pledge along to works completed, holds that expired while the coordinator read
them, other RWs' coordinators refused; the scheduler reminding once after 24 hours and lapsing after
72, and reminding a collaborator whose confirmed pledge has no funds recorded once a week; and
progress news reaching every pledger once."""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.engine import Engine
from bot.settings import Settings
from handlers.coordinator.pledge_duty import pledge_duty
from handlers.documents.letter import LetterFacts, commitment_letter
from handlers.messages import Kind, Reply
from handlers.text.formatting import date_long, datetime_short
from handlers.text.i18n import translate
from storage import pledges
from storage.clock import today
from storage.db import Database
from storage.models import (
    RW,
    AuditEntry,
    Collaborator,
    Conversation,
    Kelurahan,
    Offer,
    Outbox,
    Person,
    Pledge,
    PledgeEvent,
    ProgressUpdate,
    UpgradeRW,
)
from storage.models.roles import COORDINATOR, UPGRADING, WASTE
from storage.outbox import Priority
from storage.people import identify
from storage.roles import grant_role
from storage.types import utcnow
from tests.support import Direct

TERMS = pledges.Terms()
BERSAMA = "Paket Penataan RW Bersama"
PHONE = "+6281211112222"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def listed_rw(db: Database, kelurahan: str = "Karet Tengsin", number: int = 5) -> tuple[int, dict[str, int]]:
    """A sample RW's id and its offers by package code."""
    async with db.transaction() as session:
        statement = (
            select(Offer.rw_id, Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        rows = (await session.execute(statement)).all()
    return rows[0][0], {code: offer_id for _, code, offer_id in rows}


async def collaborator(db: Database, user: str, organisation: str | None = "PT Maju Bersama",
                       contact: str = "Budi Santoso", locale: str = "id") -> int:
    """A registered collaborator reachable as local:<user>."""
    async with db.transaction() as session:
        person = (await identify(session, f"local:{user}", "local", user, locale, utcnow())).person
        person.name, person.consent_at, person.consent_version, person.locale_chosen = contact, utcnow(), "1", True
        await session.flush()
        session.add(Collaborator(person_id=person.id, type="company" if organisation else "individual",
                                 organisation=organisation, contact_name=contact, phone=PHONE, public=True))
        return person.id


async def coordinator(db: Database, user: str, rw_ids: list[int], strand: str = UPGRADING) -> int:
    async with db.transaction() as session:
        person_id = (await identify(session, f"local:{user}", "local", user, "id", utcnow())).person_id
        await grant_role(session, person_id, COORDINATOR, utcnow(), strand=strand, rw_ids=rw_ids)
        return person_id


async def pledge(db: Database, person_id: int, offer_id: int, amount: int = 25_000_000,
                 at: datetime | None = None) -> Pledge:
    async with db.transaction() as session:
        made = await pledges.pledge(session, person_id, offer_id, amount, at or utcnow(), hold=TERMS.hold,
                                    min_share=TERMS.min_share)
        assert isinstance(made, Pledge), made
        return made


async def current(db: Database, pledge_id: int) -> Pledge:
    async with db.transaction() as session:
        return (await session.execute(select(Pledge).where(Pledge.id == pledge_id))).scalar_one()


async def notices(db: Database, person_id: int, priority: Priority = Priority.NOTIFY) -> list[Reply]:
    """What the bot started to the person (not replies), in order."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Outbox.body).where(Outbox.person_id == person_id, Outbox.priority == int(priority))
            .order_by(Outbox.id)
        )
        return [Reply.from_body(body) for body in rows.scalars()]


async def audits(db: Database) -> list[tuple[str, str | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.outcome, AuditEntry.target).where(AuditEntry.action == "upgrading_offers")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def pdf_text(content: bytes) -> str:
    """The text a PDF draws (fpdf2 output: Flate streams of `(...) Tj`), one string a line."""
    assert content.startswith(b"%PDF-")
    found = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.DOTALL):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            data = stream
        for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", data):
            found.append(re.sub(rb"\\(.)", rb"\1", raw).decode("latin-1"))
    return "\n".join(found)


async def open_pledges(chat: Direct) -> list[Reply]:
    await chat.send("MENU")
    await chat.send("Menu koordinator")
    return await chat.send("Ikrar kolaborator")


def item_label(amount: str, status: str, package: str = BERSAMA, rw: str = "RW 005 Karet Tengsin") -> str:
    return " · ".join((rw, package, amount, t(f"pledge.status.{status}")))


async def open_first(chat: Direct) -> list[Reply]:
    [listing] = await open_pledges(chat)
    return await chat.send(kind=Kind.CHOICE, choice=listing.choices[0].key)


# --- Confirming ---------------------------------------------------------------------------------


async def test_confirming_sends_the_payment_instructions_and_a_letter_naming_rw_package_amount_date_reference(
    db: Database, engine: Engine
) -> None:
    rw_id, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    made = await pledge(db, pt, offers["bersama"])
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    reference = pledges.reference(made)

    [listing] = await open_pledges(koord)
    assert listing.text == t("coordpl.ask_list", waiting=1, under_way=0)
    assert [c.label for c in listing.choices] == [item_label("Rp25.000.000", "pledged"), t("coordpl.to_menu")]
    details, ask = await koord.send(kind=Kind.CHOICE, choice=listing.choices[0].key)
    assert details.text == "\n".join((
        t("coordpl.details", reference=reference, who="PT Maju Bersama", type=t("collab.type_company"),
          contact="Budi Santoso", rw="005", kelurahan="Karet Tengsin", package=BERSAMA, amount="Rp25.000.000",
          status=t("pledge.status.pledged"), created=datetime_short(made.created_at, "id")),
        t("coordpl.details_phone", phone=PHONE),
        t("coordpl.details_expires", expires=datetime_short(made.expires_at, "id")),
    ))
    assert [c.label for c in ask.choices] == [t("coordpl.confirm"), t("coordpl.reject"), t("coordpl.back")]

    assert await koord.texts("Konfirmasi ikrar") == [
        t("coordpl.confirmed_done", reference=reference), t("coordpl.ask_list", waiting=0, under_way=1),
    ]
    confirmed = await current(db, made.id)
    assert confirmed.status == pledges.CONFIRMED
    async with db.transaction() as session:
        payment = (await session.get(UpgradeRW, rw_id)).payment
        event = (await session.execute(select(PledgeEvent).where(PledgeEvent.status == "confirmed"))).scalar_one()
    assert event.by is not None and event.pledge_id == made.id
    assert await audits(db) == [("confirmed", f"pledge:{made.id}")]

    told, letter = await notices(db, pt)
    assert told.text == t("pledgenote.confirmed", reference=reference, amount="Rp25.000.000", package=BERSAMA,
                          rw="005", kelurahan="Karet Tengsin", payment=payment)
    assert letter.document is not None and letter.document.filename == f"surat-komitmen-{reference}.pdf"
    drawn = pdf_text(letter.document.content)
    for expected in (t("letter.title"), "RW 005", "Karet Tengsin", "Tanah Abang", BERSAMA, "Rp25.000.000",
                     reference, "PT Maju Bersama", date_long(today(utcnow()), "id"), payment.split()[0]):
        assert expected in drawn, expected


async def test_the_letter_is_in_the_collaborators_language_and_never_chokes_on_a_name(
    db: Database, engine: Engine
) -> None:
    rw_id, offers = await listed_rw(db)
    foreign = await collaborator(db, "intl", organisation="Ωmega 株式会社 — Fondation Élan 🙂", locale="en")
    made = await pledge(db, foreign, offers["lengkap"], 750_000_000)
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    await open_first(koord)
    await koord.send("Konfirmasi ikrar")
    told, letter = await notices(db, foreign)
    assert told.text.startswith("Good news!") and "IDR 750,000,000" in told.text
    drawn = pdf_text(letter.document.content)
    assert translate("en", "letter.title") in drawn and "Fondation Élan" in drawn and "IDR 750,000,000" in drawn
    assert pledges.reference(made) in drawn


def test_a_letter_is_deterministic_and_replaces_what_core_fonts_cannot_draw() -> None:
    facts = LetterFacts("KSBB-2026-000042", "Yayasan “Çahaya” 光 🙂", 7, "Karet Tengsin", "Tanah Abang",
                        "Kota Administrasi Jakarta Pusat", BERSAMA, 5_000_000, today(utcnow()), None, assumed=True)
    first = commitment_letter(facts, "id")
    assert first == commitment_letter(facts, "id")
    drawn = pdf_text(first)
    assert 'Yayasan "Çahaya" ? ?' in drawn and "RW 007" in drawn and "Rp5.000.000" in drawn
    assert t("letter.payment_missing") in drawn and t("letter.sample") in drawn


# --- Who may, and what can go wrong --------------------------------------------------------------


async def set_detail(db: Database, person_id: int, pledge_id: int) -> None:
    """The coordinator at a pledge's details with its buttons shown (a stale or forged button)."""
    async with db.transaction() as session:
        conversation = await session.get(Conversation, person_id) or Conversation(person_id=person_id)
        session.add(conversation)
        conversation.state, conversation.data, conversation.updated_at = "coordpl.detail", {"coord_pledge": {"id": pledge_id}}, utcnow()
        conversation.offered = {"choices": [["act:confirmed", t("coordpl.confirm")], ["act:back", t("coordpl.back")]]}


async def test_another_rws_coordinator_neither_sees_nor_confirms_the_pledge(db: Database, engine: Engine) -> None:
    rw_id, offers = await listed_rw(db)
    other_rw, _ = await listed_rw(db, number=7)
    made = await pledge(db, await collaborator(db, "pt"), offers["bersama"])
    for user, rws, strand in (("koorlain", [other_rw], UPGRADING), ("koorsampah", [rw_id], WASTE)):
        person_id = await coordinator(db, user, rws, strand)
        chat = Direct(engine, db, user)
        await chat.send("MENU")
        await chat.send("Menu koordinator")
        expected = t("coordpl.none") if strand == UPGRADING else t("access.denied")
        assert (await chat.texts("Ikrar kolaborator"))[0] == expected
        await set_detail(db, person_id, made.id)
        assert (await chat.texts("Konfirmasi ikrar"))[0] == t("access.denied")
    assert (await current(db, made.id)).status == pledges.PLEDGED
    assert ("denied", f"pledge:{made.id}") in await audits(db)
    assert not [outcome for outcome, _ in await audits(db) if outcome == "confirmed"]


async def test_an_admin_sees_every_rw_but_not_the_phone(db: Database, engine: Engine) -> None:
    _, offers = await listed_rw(db)
    await pledge(db, await collaborator(db, "pt"), offers["bersama"])
    async with db.transaction() as session:
        person_id = (await identify(session, "local:admin", "local", "admin", "id", utcnow())).person_id
        await grant_role(session, person_id, "admin", utcnow())
    details, _ = await open_first(Direct(engine, db, "admin"))
    assert "PT Maju Bersama" in details.text and PHONE not in details.text


async def test_a_rejection_asks_a_reason_tells_the_collaborator_and_frees_the_offer(db: Database, engine: Engine) -> None:
    rw_id, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    made = await pledge(db, pt, offers["utama"], 1_500_000_000)
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    await open_first(koord)
    assert await koord.texts("Tolak ikrar") == [t("coordpl.ask_reason", limit=200)]
    assert await koord.texts("   ") == [t("coordpl.reason_empty")]
    reason = "RW ini sudah didanai pemerintah tahun ini."
    assert await koord.texts(reason) == [t("coordpl.rejected_done", reference=pledges.reference(made)), t("coordpl.none")]
    rejected = await current(db, made.id)
    assert (rejected.status, rejected.reason) == (pledges.REJECTED, reason)
    [told] = await notices(db, pt)
    assert told.text == t("pledgenote.rejected", reference=pledges.reference(made), amount="Rp1.500.000.000",
                          package="Paket Penataan RW Utama", rw="005", kelurahan="Karet Tengsin", reason=reason)
    assert told.document is None
    async with db.transaction() as session:
        states = {s.offer.package_code: s for s in await pledges.offer_states(session, rw_id, utcnow())}
    assert states["utama"].open and states["lengkap"].open
    assert await audits(db) == [("rejected", f"pledge:{made.id}")]


async def test_a_pledge_moves_from_confirmed_to_works_completed_and_the_rw_with_it(db: Database, engine: Engine) -> None:
    rw_id, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    made = await pledge(db, pt, offers["lengkap"], 750_000_000)
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    reference, package = pledges.reference(made), "Paket Penataan RW Lengkap"
    steps = [
        ("Konfirmasi ikrar", pledges.CONFIRMED, "coordpl.confirmed_done", "planned"),
        ("Dana sudah diterima", pledges.RECEIVED, "coordpl.received_done", "planned"),
        ("Pekerjaan sudah dimulai", pledges.IN_PROGRESS, "coordpl.started_done", "in_progress"),
        ("Pekerjaan sudah selesai", pledges.COMPLETED, "coordpl.completed_done", "done"),
    ]
    for label, status, done, works in steps:
        _, ask = await open_first(koord)
        assert ask.choices[0].label == label
        replies = await koord.texts(label)
        assert replies[0] == t(done, reference=reference, amount="Rp750.000.000", rw="005", kelurahan="Karet Tengsin")
        assert (await current(db, made.id)).status == status
        async with db.transaction() as session:
            assert (await session.get(UpgradeRW, rw_id)).works == works
    assert replies[1] == t("coordpl.none")
    values = {"reference": reference, "amount": "Rp750.000.000", "package": package, "rw": "005",
              "kelurahan": "Karet Tengsin"}
    texts = [reply.text for reply in await notices(db, pt)]
    assert texts[2:] == [t("pledgenote.received", **values), t("pledgenote.started", **values),
                         t("pledgenote.completed", **values)]
    assert [outcome for outcome, _ in await audits(db)] == ["confirmed", "received", "in_progress", "completed"]


async def test_a_hold_that_expired_while_the_coordinator_read_it_cannot_be_confirmed(
    db: Database, engine: Engine
) -> None:
    rw_id, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    made = await pledge(db, pt, offers["bersama"])
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    await open_first(koord)
    async with db.transaction() as session:
        await session.execute(update(Pledge).where(Pledge.id == made.id).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert await koord.texts("Konfirmasi ikrar") == [
        t("coordpl.expired", reference=pledges.reference(made)), t("coordpl.none"),
    ]
    assert (await current(db, made.id)).status == pledges.LAPSED
    [told] = await notices(db, pt)
    assert told.text == t("pledgenote.lapsed", reference=pledges.reference(made), amount="Rp25.000.000",
                          package=BERSAMA, rw="005", kelurahan="Karet Tengsin", hours=72)
    assert await audits(db) == [("expired", f"pledge:{made.id}")]


async def test_a_pledge_already_decided_elsewhere_is_not_moved_twice(db: Database, engine: Engine) -> None:
    rw_id, offers = await listed_rw(db)
    made = await pledge(db, await collaborator(db, "pt"), offers["bersama"])
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    await open_first(koord)
    async with db.transaction() as session:  # another coordinator confirmed it meanwhile
        await pledges.move(session, made.id, pledges.CONFIRMED, None, utcnow())
    replies = await koord.texts("Tolak ikrar")
    assert replies == [t("coordpl.ask_reason", limit=200)]
    assert (await koord.texts("Tidak jadi"))[0] == t(
        "coordpl.not_allowed", reference=pledges.reference(made), status=t("pledge.status.confirmed"))
    assert (await current(db, made.id)).status == pledges.CONFIRMED


# --- The scheduler ------------------------------------------------------------------------------


async def run_duty(db: Database, now: datetime, terms: pledges.Terms = TERMS) -> None:
    async with db.transaction() as session:
        await pledge_duty(terms)(session, now)


async def test_the_duty_reminds_the_rws_coordinators_once_after_24_hours_then_lapses_after_72(db: Database) -> None:
    rw_id, offers = await listed_rw(db)
    other_rw, _ = await listed_rw(db, number=7)
    pt = await collaborator(db, "pt")
    start = utcnow()
    made = await pledge(db, pt, offers["bersama"], at=start)
    koord = await coordinator(db, "koorpt", [rw_id])
    other = await coordinator(db, "koorlain", [other_rw])

    await run_duty(db, start + timedelta(hours=23))
    assert await notices(db, koord) == []
    await run_duty(db, start + timedelta(hours=25))
    await run_duty(db, start + timedelta(hours=26))
    [reminder] = await notices(db, koord)
    assert reminder.text == t(
        "pledgeduty.remind", reference=pledges.reference(made), who="PT Maju Bersama", amount="Rp25.000.000",
        package=BERSAMA, rw="005", kelurahan="Karet Tengsin", created=datetime_short(made.created_at, "id"),
        expires=datetime_short(made.expires_at, "id"),
    )
    assert await notices(db, other) == [] and await notices(db, pt) == []

    await run_duty(db, start + timedelta(hours=71))
    assert (await current(db, made.id)).status == pledges.PLEDGED
    await run_duty(db, start + timedelta(hours=73))
    await run_duty(db, start + timedelta(hours=74))
    assert (await current(db, made.id)).status == pledges.LAPSED
    [lapsed] = await notices(db, pt)
    assert lapsed.text == t("pledgenote.lapsed", reference=pledges.reference(made), amount="Rp25.000.000",
                            package=BERSAMA, rw="005", kelurahan="Karet Tengsin", hours=72)
    assert len(await notices(db, koord)) == 1


async def move(db: Database, pledge_id: int, status: str, at: datetime) -> None:
    async with db.transaction() as session:
        assert isinstance(await pledges.move(session, pledge_id, status, None, at), Pledge)


async def payment_of(db: Database, rw_id: int) -> str:
    async with db.transaction() as session:
        payment = (await session.get(UpgradeRW, rw_id)).payment
        assert payment
        return payment


async def test_a_confirmed_pledge_without_funds_reminds_its_collaborator_weekly_until_the_funds_arrive(
    db: Database,
) -> None:
    rw_id, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    start = utcnow()
    made = await pledge(db, pt, offers["bersama"], at=start)
    confirmed = start + timedelta(hours=5)
    await move(db, made.id, pledges.CONFIRMED, confirmed)
    koord = await coordinator(db, "koorpt", [rw_id])

    for hours_after in (1, 24 * 6, 24 * 7 - 1):
        await run_duty(db, confirmed + timedelta(hours=hours_after))
    assert await notices(db, pt) == []
    for hours_after in (24 * 7 + 1, 24 * 7 + 1, 24 * 7 + 2, 24 * 10, 24 * 14 - 1):  # a restart runs it again
        await run_duty(db, confirmed + timedelta(hours=hours_after))
    [first] = await notices(db, pt)
    values = {"reference": pledges.reference(made), "amount": "Rp25.000.000", "rw": "005", "kelurahan": "Karet Tengsin",
              "payment": await payment_of(db, rw_id)}
    assert first.text == t("pledgeduty.funds", days=7, **values)
    assert pledges.reference(made) in first.text and values["payment"] in first.text

    for hours_after in (24 * 14 + 1, 24 * 14 + 3, 24 * 20):
        await run_duty(db, confirmed + timedelta(hours=hours_after))
    assert [reply.text for reply in await notices(db, pt)] == [first.text, t("pledgeduty.funds", days=14, **values)]

    await move(db, made.id, pledges.RECEIVED, confirmed + timedelta(days=20, hours=12))
    for days_after in (21, 28, 35, 60):
        await run_duty(db, confirmed + timedelta(days=days_after, hours=1))
    assert len(await notices(db, pt)) == 2
    assert await notices(db, koord) == []  # only the collaborator is reminded of the funds


async def test_the_funds_reminder_speaks_the_collaborators_language_and_stops_when_the_pledge_is_cancelled(
    db: Database,
) -> None:
    rw_id, offers = await listed_rw(db)
    foundation = await collaborator(db, "yayasan", "Yayasan Sehat", locale="en")
    waiting = await collaborator(db, "pt")
    start = utcnow()
    cancelled = await pledge(db, foundation, offers["bersama"], at=start)
    unconfirmed = await pledge(db, waiting, offers["bersama"], at=start)
    await move(db, cancelled.id, pledges.CONFIRMED, start)

    await run_duty(db, start + timedelta(days=7, minutes=1))
    [reminder] = await notices(db, foundation)
    assert reminder.text == translate(
        "en", "pledgeduty.funds", reference=pledges.reference(cancelled), amount="IDR 25,000,000", rw="005",
        kelurahan="Karet Tengsin", days=7, payment=await payment_of(db, rw_id))
    await move(db, cancelled.id, pledges.CANCELLED, start + timedelta(days=8))
    await run_duty(db, start + timedelta(days=14, minutes=1))
    assert len(await notices(db, foundation)) == 1
    [lapsed] = await notices(db, waiting)  # an unconfirmed pledge is never reminded of funds: it lapses
    assert lapsed.text == t("pledgenote.lapsed", reference=pledges.reference(unconfirmed), amount="Rp25.000.000",
                            package=BERSAMA, rw="005", kelurahan="Karet Tengsin", hours=72)


async def test_the_funds_reminder_interval_is_a_setting(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_FUNDS_REMINDER_DAYS", "3")
    terms = Settings(_env_file=None).pledge_terms  # type: ignore[call-arg]
    assert terms.funds_reminder_every == timedelta(days=3) and TERMS.funds_reminder_every == timedelta(days=7)
    _, offers = await listed_rw(db)
    pt = await collaborator(db, "pt")
    start = utcnow()
    made = await pledge(db, pt, offers["bersama"], at=start)
    await move(db, made.id, pledges.CONFIRMED, start)
    await run_duty(db, start + timedelta(days=2, hours=23), terms)
    assert await notices(db, pt) == []
    await run_duty(db, start + timedelta(days=3, hours=1), terms)
    await run_duty(db, start + timedelta(days=6, hours=1), terms)
    assert [reply.text.split(" sudah dikonfirmasi ")[1][:12] for reply in await notices(db, pt)] == [
        "3 hari lalu,", "6 hari lalu,"]


# --- Progress news ------------------------------------------------------------------------------


async def test_progress_news_with_a_photo_reaches_every_pledger_once_in_their_language(
    db: Database, engine: Engine
) -> None:
    rw_id, offers = await listed_rw(db)
    _, elsewhere = await listed_rw(db, number=7)
    pt = await collaborator(db, "pt")
    yayasan = await collaborator(db, "yayasan", organisation="Yayasan Hijau", contact="Rina", locale="en")
    outsider = await collaborator(db, "lain", organisation="CV Lain")
    await pledge(db, pt, offers["bersama"], 10_000_000)
    await pledge(db, pt, offers["bersama"], 5_000_000)  # two pledges, one message
    await pledge(db, yayasan, offers["lengkap"], 750_000_000)
    await pledge(db, outsider, elsewhere["bersama"])
    coordinator_id = await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")

    await koord.send("MENU")
    await koord.send("Menu koordinator")
    assert await koord.texts("Kabar penataan") == [t("coordprog.ask_text", rw="RW 005 Karet Tengsin", limit="800")]
    news = "Gapura dan mural sudah dikerjakan 60%."
    assert await koord.texts(news) == [t("coordprog.ask_photo")]
    assert await koord.texts(kind=Kind.PHOTO, photo="AgACAgIAAxkBAAIgapura") == [
        t("coordprog.preview", count="2", rw="RW 005 Karet Tengsin", text=news), t("coordprog.ask_confirm_photo"),
    ]
    assert (await koord.texts("Kirim"))[0] == t("coordprog.sent", count="2")

    [for_pt] = await notices(db, pt, Priority.BULK)
    [for_yayasan] = await notices(db, yayasan, Priority.BULK)
    assert for_pt.text == t("coordprog.notice", rw="005", kelurahan="Karet Tengsin", text=news)
    assert for_pt.photo_ref == for_yayasan.photo_ref == "local:AgACAgIAAxkBAAIgapura"  # sent where it was taken
    assert for_yayasan.text == translate("en", "coordprog.notice", rw="005", kelurahan="Karet Tengsin", text=news)
    assert await notices(db, outsider, Priority.BULK) == []
    async with db.transaction() as session:
        stored = (await session.execute(select(ProgressUpdate))).scalar_one()
    assert (stored.rw_id, stored.text, stored.photo, stored.posted_by) == (
        rw_id, news, "local:AgACAgIAAxkBAAIgapura", coordinator_id)


async def test_news_for_an_rw_nobody_pledged_to_is_not_started(db: Database, engine: Engine) -> None:
    rw_id, _ = await listed_rw(db)
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    await koord.send("MENU")
    await koord.send("Menu koordinator")
    assert (await koord.texts("Kabar penataan"))[0] == t("coordprog.no_pledgers")


async def test_an_opted_out_pledger_gets_no_news_and_cancelling_sends_nothing(db: Database, engine: Engine) -> None:
    rw_id, offers = await listed_rw(db)
    pt, quiet = await collaborator(db, "pt"), await collaborator(db, "diam", organisation="PT Diam")
    await pledge(db, pt, offers["bersama"], 10_000_000)
    await pledge(db, quiet, offers["bersama"], 10_000_000)
    async with db.transaction() as session:
        (await session.get(Person, quiet)).opted_out_at = utcnow()
    await coordinator(db, "koorpt", [rw_id])
    koord = Direct(engine, db, "koorpt")
    for message in ("MENU", "Menu koordinator", "Kabar penataan", "Taman sudah ditanami."):
        await koord.send(message)
    await koord.send("Lewati")
    assert (await koord.texts("Jangan kirim"))[0] == t("coordprog.cancelled")
    assert await notices(db, pt, Priority.BULK) == []
    for message in ("Kabar penataan", "Taman sudah ditanami.", "Lewati"):
        await koord.send(message)
    assert (await koord.texts("Kirim"))[0] == t("coordprog.sent", count="1")
    assert len(await notices(db, pt, Priority.BULK)) == 1 and await notices(db, quiet, Priority.BULK) == []
