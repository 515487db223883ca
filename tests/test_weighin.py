"""Weigh-ins and verification as a coordinator and a resident notice them: one-line and step-by-step
weigh-ins credited at the right price with a receipt, self-reports settled so nothing is credited
twice, approval (with corrected weights) and rejection, corrections as reversing entries, the
permission table, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine import Engine
from handlers.coordinator.weighin_line import Who, parse_line
from handlers.messages import Kind, Reply
from handlers.text.formatting import rupiah, weight
from handlers.text.i18n import translate
from storage import banks, weighin
from storage.db import Database
from storage.models import (
    AuditEntry,
    Conversation,
    Identity,
    LedgerEntry,
    Outbox,
    Price,
    WasteBank,
    WasteBankRW,
    WasteReport,
    WasteReportItem,
)
from storage.models.roles import ADMIN, COORDINATOR, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.reports import create_report
from storage.roles import grant_role
from storage.types import utcnow
from tests.conftest import count
from tests.support import Direct

KEBON_MELATI = "31.71.07.1005"
SITI_PHONE = "+6281234567890"
SAMPLE = "Bank Sampah Unit Melati Bersih (CONTOH)"
HANG_GUARD = 30  # seconds: only stops a hung test, never a measure of speed


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


@dataclass
class World:
    """Bank A (the sample bank, RW 12) and bank B (RW 14); Siti and Budi save at A (1001, 1002)."""

    bank_a: int
    bank_b: int
    siti: int
    siti_account: int
    budi: int


@pytest.fixture
async def world(db: Database) -> World:
    now = utcnow()
    async with db.transaction() as session:
        rw12 = (await get_or_create_rw(session, KEBON_MELATI, 12)).id
        rw14 = (await get_or_create_rw(session, KEBON_MELATI, 14)).id
        bank_a = (await session.execute(select(WasteBank.id).where(WasteBank.name == SAMPLE))).scalar_one()
        bank_b = WasteBank(name="Bank Sampah Unit Mawar", weighing_minutes=120, next_member_number=1001)
        session.add(bank_b)
        await session.flush()
        session.add(WasteBankRW(rw_id=rw14, bank_id=bank_b.id))
        people = {}
        for user, name in (("siti", "Siti Aminah"), ("budi", "Budi Santoso")):
            identity = await identify(session, f"local:{user}", "local", user, "id", now)
            person = identity.person
            person.name, person.consent_at, person.consent_version, person.rw_id = name, now, "2026-11", rw12
            people[user] = (person.id, (await banks.ensure_account(session, person.id, bank_a)).id)
        session.add(Identity(
            key=f"whatsapp:{SITI_PHONE}", channel="whatsapp", address=SITI_PHONE, person_id=people["siti"][0],
            created_at=now, last_inbound_at=now - timedelta(days=1),
        ))
        for user, role, rws in (("koord12", COORDINATOR, [rw12]), ("koord14", COORDINATOR, [rw14]), ("admin", ADMIN, [])):
            person_id = (await identify(session, f"local:{user}", "local", user, "id", now)).person_id
            await grant_role(session, person_id, role, now, strand=WASTE if rws else None, rw_ids=rws)
    return World(bank_a, bank_b.id, people["siti"][0], people["siti"][1], people["budi"][0])


def chat(engine: Engine, db: Database, user: str) -> Direct:
    return Direct(engine, db, user=user)


async def self_report(db: Database, world: World, items: list[tuple[str, int]], days_ago: int = 1) -> int:
    """A pending self-report by Siti at bank A, priced as the report flow prices it."""
    async with db.transaction() as session:
        reported = utcnow() - timedelta(days=days_ago)
        prices = await banks.price_list(session, world.bank_a, reported.date())
        report = await create_report(
            session, person_id=world.siti, rw_id=(await weighin.bank_rw_ids(session, world.bank_a))[0],
            bank_id=world.bank_a, items=items, prices=prices, photo=None, now=reported,
        )
        return report.id


async def balance(db: Database, world: World) -> int:
    return await count(db, "SELECT coalesce(sum(amount), 0) FROM ledger_entry WHERE account_id = :a", a=world.siti_account)


async def notices(db: Database, person_id: int) -> list[str]:
    """What the bot sent a person without their writing (receipts, decisions)."""
    async with db.transaction() as session:
        rows = await session.execute(select(Outbox.body).where(Outbox.person_id == person_id).order_by(Outbox.id))
        return [Reply.from_body(body).text for body in rows.scalars()]


async def state(db: Database, user: str) -> str:
    async with db.transaction() as session:
        statement = select(Conversation.state).join(Identity, Identity.person_id == Conversation.person_id)
        return (await session.execute(statement.where(Identity.key == f"local:{user}"))).scalar_one()


async def force(db: Database, user: str, state_name: str, data: dict[str, object], offered: list[list[str]]) -> None:
    """Put someone's conversation in a state with stale data and buttons, as a replayed tap would find it."""
    async with db.transaction() as session:
        statement = select(Conversation).join(Identity, Identity.person_id == Conversation.person_id)
        conversation = (await session.execute(statement.where(Identity.key == f"local:{user}"))).scalar_one_or_none()
        if conversation is None:
            person_id = (await session.execute(select(Identity.person_id).where(Identity.key == f"local:{user}"))).scalar_one()
            conversation = Conversation(person_id=person_id, state=state_name)
            session.add(conversation)
        conversation.state, conversation.data = state_name, data
        conversation.offered = {"choices": offered}
        conversation.updated_at = utcnow()


async def denials(db: Database, action: str) -> int:
    return await count(db, "SELECT count(*) FROM audit_log WHERE action = :a AND outcome = 'denied'", a=action)


def line(code: str, grams: int, price: int) -> str:
    """A receipt or summary line as the resident reads it."""
    value = (grams * price + 500) // 1000
    return t("report.line", category=t(f"category.{code}"), weight=weight(grams, "id"),
             price=rupiah(price, "id"), value=rupiah(value, "id"))


# --- Weigh-in ------------------------------------------------------------------------------


async def test_a_one_line_weigh_in_credits_todays_price_and_sends_a_receipt(db: Database, engine: Engine, world: World) -> None:
    koord = chat(engine, db, "koord12")
    summary, confirm = await koord.texts("/timbang 1001 PET 2,5 kardus 1")
    assert summary == t(
        "weighin.summary", name="Siti Aminah", member=1001, bank=SAMPLE, total="Rp9.000", settled=0,
        lines="\n".join([line("plastik_pet", 2500, 3000), line("kertas_kardus", 1000, 1500)]),
    )
    assert confirm == t("weighin.ask_confirm")
    assert await koord.texts("Simpan") == [
        t("weighin.saved", name="Siti Aminah", amount="Rp9.000", balance="Rp9.000"),
        t("weighin.ask_member", bank=SAMPLE),
    ]
    assert await balance(db, world) == 9_000
    async with db.transaction() as session:
        report = (await session.execute(select(WasteReport))).scalar_one()
        entry = (await session.execute(select(LedgerEntry))).scalar_one()
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.action == "weigh_in"))).scalar_one()
    assert (report.source, report.status, report.bank_id) == ("weighin", "verified", world.bank_a)
    assert (entry.kind, entry.report_id, entry.amount) == ("deposit", report.id, 9_000)
    assert (audited.outcome, audited.target, audited.detail["amount"]) == ("recorded", f"report:{report.id}", 9_000)
    [receipt] = await notices(db, world.siti)
    assert "Rp9.000" in receipt and "Saldo sekarang: Rp9.000" in receipt and line("plastik_pet", 2500, 3000) in receipt


async def test_a_phone_number_finds_the_resident_through_their_whatsapp_identity(db: Database, engine: Engine, world: World) -> None:
    koord = chat(engine, db, "koord12")
    summary, _ = await koord.texts("/timbang 0812-3456-7890 besi 2")
    assert "Siti Aminah (no. anggota 1001)" in summary and "Rp6.000" in summary
    await koord.send("Simpan")
    assert await balance(db, world) == 6_000


async def test_step_by_step_from_the_coordinator_menu(db: Database, engine: Engine, world: World) -> None:
    koord = chat(engine, db, "koord12")
    await koord.send("MENU")
    await koord.send("Menu koordinator")
    assert await koord.texts("Timbang setoran") == [t("weighin.ask_member", bank=SAMPLE)]
    assert await koord.texts("1001") == [t("weighin.ask_category", name="Siti Aminah")]
    assert await koord.texts("kardus") == [t("weighin.ask_weight", category="kardus")]
    assert await koord.texts("2 kg") == [t("weighin.ask_more", items="2 kg kardus")]
    await koord.send("Tambah jenis lain")
    await koord.send("PET")
    await koord.send("150 kg")
    assert await state(db, "koord12") == "weighin.weight"
    await koord.send("500 gram")
    texts = await koord.texts("Sudah, lanjut")
    assert "Total: Rp4.500" in texts[0]
    await koord.send("Simpan")
    assert await balance(db, world) == 4_500
    assert await koord.texts("Selesai") == [t("coord.ask")]


async def test_settling_pending_self_reports_never_credits_the_same_waste_twice(db: Database, engine: Engine, world: World) -> None:
    covered = await self_report(db, world, [("plastik_pet", 2000)], days_ago=2)
    other = await self_report(db, world, [("kertas_kardus", 3000)], days_ago=1)
    koord = chat(engine, db, "koord12")
    [settle] = await koord.texts("/timbang 1001 PET 2")
    assert "belum ditimbang" in settle
    await koord.send("2")  # the list is newest first: 2 is the older PET report
    summary, _ = await koord.texts("Lanjut")
    assert "Laporan warga yang diselesaikan: 1" in summary
    await koord.send("Simpan")
    async with db.transaction() as session:
        reports = {r.id: r for r in (await session.execute(select(WasteReport))).scalars()}
    weigh = next(r for r in reports.values() if r.source == "weighin")
    assert (reports[covered].status, reports[covered].settled_by_id) == ("settled", weigh.id)
    assert reports[other].status == "reported"
    assert await balance(db, world) == 6_000

    # The settled report can never be approved afterwards, even by a replayed button.
    checker = chat(engine, db, "admin")
    queue = (await checker.texts("/periksa"))[0]
    assert "3 kg kardus" in queue and "2 kg botol PET" not in queue
    await force(db, "admin", "verify.report", {"verify": {"offset": 0, "report": covered, "grams": {}}},
                [["report:approve", "Setujui"]])
    assert (await checker.texts(kind=Kind.CHOICE, choice="report:approve"))[0] == t("verify.already_decided")
    assert await balance(db, world) == 6_000


async def test_savings_show_a_settled_report_and_count_its_kilograms_once(db: Database, engine: Engine, world: World) -> None:
    await self_report(db, world, [("plastik_pet", 2000)], days_ago=0)
    koord = chat(engine, db, "koord12")
    for message in ("/timbang 1001 PET 2", "Semua laporan ini", "Simpan"):
        await koord.send(message)
    siti = chat(engine, db, "siti")
    await siti.send("MENU")
    saldo = (await siti.texts("Saldo tabungan"))[0]
    assert t("savings.status_settled") in saldo
    assert t("savings.month", weight="2 kg") in saldo


# --- Verification --------------------------------------------------------------------------


async def test_approving_credits_once_at_the_report_price_and_tells_the_resident(db: Database, engine: Engine, world: World) -> None:
    older = await self_report(db, world, [("plastik_pet", 2000)], days_ago=3)
    await self_report(db, world, [("kertas_kardus", 1000)], days_ago=1)
    koord = chat(engine, db, "koord12")
    [queue] = await koord.texts("/periksa")
    assert queue.index("botol PET") < queue.index("kardus")  # oldest first
    detail, decision = await koord.texts("1. Siti Aminah")
    assert line("plastik_pet", 2000, 3000) in detail and decision == t("verify.ask_decision")
    approved, _ = await koord.texts("Setujui")
    assert approved == t("verify.approved", name="Siti Aminah", amount="Rp6.000")
    assert await balance(db, world) == 6_000
    async with db.transaction() as session:
        report = await session.get(WasteReport, older)
        entry = (await session.execute(select(LedgerEntry))).scalar_one()
    assert report is not None and report.status == "verified" and entry.report_id == older
    [receipt] = await notices(db, world.siti)
    assert "disetujui" in receipt and "Saldo sekarang: Rp6.000" in receipt


async def test_a_corrected_weight_is_credited_and_the_original_kept_in_the_audit(db: Database, engine: Engine, world: World) -> None:
    report_id = await self_report(db, world, [("plastik_pet", 2000)])
    koord = chat(engine, db, "koord12")
    for message in ("/periksa", "1. Siti Aminah"):
        await koord.send(message)
    assert await koord.texts("Koreksi berat") == [t("verify.ask_weight", category="botol PET", reported="2 kg")]
    assert (await koord.texts("0"))[0] == t("report.weight_zero")
    texts = await koord.texts("1,5")
    assert t("verify.corrections", lines=t("verify.corrected_line", category="botol PET", reported="2 kg", corrected="1,5 kg")) in texts
    await koord.send("Setujui")
    assert await balance(db, world) == 4_500
    async with db.transaction() as session:
        item = (await session.execute(select(WasteReportItem).where(WasteReportItem.report_id == report_id))).scalar_one()
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.outcome == "approved"))).scalar_one()
    assert item.grams == 1_500
    assert audited.detail["corrected"] == {str(item.id): [2_000, 1_500]}


async def test_rejecting_needs_a_reason_credits_nothing_and_tells_the_resident_why(db: Database, engine: Engine, world: World) -> None:
    report_id = await self_report(db, world, [("plastik_pet", 2000)])
    koord = chat(engine, db, "koord12")
    for message in ("/periksa", "1. Siti Aminah"):
        await koord.send(message)
    assert await koord.texts("Tolak") == [t("verify.ask_reason")]
    assert await koord.texts("x") == [t("verify.reason_invalid")]
    texts = await koord.texts("Foto dan timbangan tidak cocok")
    assert texts[0] == t("verify.rejected", name="Siti Aminah") and texts[1] == t("verify.none")
    async with db.transaction() as session:
        report = await session.get(WasteReport, report_id)
    assert report is not None and (report.status, report.reject_reason) == ("rejected", "Foto dan timbangan tidak cocok")
    assert await balance(db, world) == 0
    [notice] = await notices(db, world.siti)
    assert "Foto dan timbangan tidak cocok" in notice


async def test_two_coordinators_cannot_approve_the_same_report_twice(db: Database, engine: Engine, world: World) -> None:
    await self_report(db, world, [("plastik_pet", 2000)])
    first, second = chat(engine, db, "koord12"), chat(engine, db, "admin")
    for who in (first, second):
        await who.send("/periksa")
        await who.send("1. Siti Aminah")
    await first.send("Setujui")
    assert (await second.texts("Setujui"))[0] == t("verify.already_decided")
    assert await balance(db, world) == 6_000
    assert await count(db, "SELECT count(*) FROM ledger_entry") == 1


async def approve_in_parallel(db: Database, report_id: int, lock: bool) -> int:
    """Two sessions read the report and approve it at once; returns how many credited. Before writing, each
    waits until the other has read too or, on PostgreSQL, is blocked on the lock (pg_locks shows it), so
    neither goes on alone because the machine was slow; SQLite serialises writers, so there it goes on."""
    pids: dict[int, int] = {}
    read: set[int] = set()

    async def meet(session: AsyncSession, me: int) -> None:
        read.add(me)
        other = 1 - me
        async with asyncio.timeout(HANG_GUARD):
            while other not in read and not db.is_sqlite:
                if other in pids:
                    waiting = text("SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted AND pid = :pid)")
                    blocked = await session.execute(waiting, {"pid": pids[other]})
                    if blocked.scalar_one():
                        return  # the lock holder goes on alone
                await asyncio.sleep(0.001)

    async def approver(me: int) -> bool:
        async with db.transaction() as session:
            if not db.is_sqlite:
                pids[me] = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            if lock:
                report = await weighin.lock_pending(session, report_id)
            else:
                report = await session.get(WasteReport, report_id)
                report = report if report and report.status == "reported" else None
                if report is not None:
                    await session.refresh(report, ["items"])
            await meet(session, me)
            if report is None:
                return False
            await weighin.approve(session, report, grams={}, prices={"plastik_pet": 3000}, by=report.person_id or 0, now=utcnow())
            return True

    return sum(await asyncio.gather(approver(0), approver(1)))


async def test_parallel_approvals_credit_once_and_the_lock_is_what_prevents_the_race(db: Database, world: World) -> None:
    report_id = await self_report(db, world, [("plastik_pet", 2000)])
    assert await approve_in_parallel(db, report_id, lock=True) == 1
    assert await count(db, "SELECT count(*) FROM ledger_entry") == 1
    if db.is_sqlite:
        return  # SQLite serialises writers with BEGIN IMMEDIATE; the control run needs PostgreSQL
    control = await self_report(db, world, [("plastik_pet", 2000)])
    assert await approve_in_parallel(db, control, lock=False) == 2  # without the lock: credited twice


async def test_the_price_in_force_on_the_report_date_or_the_weigh_in_date_is_used(db: Database, engine: Engine, world: World) -> None:
    today = utcnow().date()
    async with db.transaction() as session:
        session.add(Price(bank_id=world.bank_a, category_code="plastik_pet", rupiah_per_kg=4_000,
                          effective_from=today - timedelta(days=30)))
        session.add(Price(bank_id=world.bank_a, category_code="plastik_pet", rupiah_per_kg=9_999,
                          effective_from=date(2099, 1, 1)))
    old = await self_report(db, world, [("plastik_pet", 1000)], days_ago=60)  # city price then: Rp3.000
    koord = chat(engine, db, "koord12")
    for message in ("/periksa", "1. Siti Aminah", "Setujui"):
        await koord.send(message)
    await koord.send("/timbang 1001 PET 1")
    await koord.send("Simpan")
    async with db.transaction() as session:
        amounts = dict((await session.execute(select(LedgerEntry.report_id, LedgerEntry.amount))).all())
    weigh = next(report_id for report_id in amounts if report_id != old)
    assert (amounts[old], amounts[weigh]) == (3_000, 4_000)


# --- Corrections ---------------------------------------------------------------------------


async def weigh(koord: Direct, text: str = "/timbang 1001 PET 2,5 kardus 1") -> None:
    await koord.send(text)
    await koord.send("Simpan")


async def test_a_correction_is_a_reversing_entry_and_the_balance_comes_out_right(db: Database, engine: Engine, world: World) -> None:
    covered = await self_report(db, world, [("plastik_pet", 2500)])
    koord = chat(engine, db, "koord12")
    for message in ("/timbang 1001 PET 2,5 kardus 1", "Semua laporan ini", "Simpan"):
        await koord.send(message)
    await weigh(koord, "/timbang 1001 besi 1")
    [listing] = await koord.texts("Koreksi setoran")
    assert listing.index("Rp3.000") < listing.index("Rp9.000")  # newest first
    [question] = await koord.texts("2")
    assert "Rp9.000" in question
    assert (await koord.texts("Ya, batalkan setoran"))[0] == t("weighin.reversed", amount="Rp9.000")
    assert await balance(db, world) == 3_000
    async with db.transaction() as session:
        entries = list((await session.execute(select(LedgerEntry).order_by(LedgerEntry.id))).scalars())
        freed = await session.get(WasteReport, covered)
        reversed_report = await session.get(WasteReport, entries[0].report_id)
    assert [(e.amount, e.kind, e.reverses_id) for e in entries] == [
        (9_000, "deposit", None), (3_000, "deposit", None), (-9_000, "reversal", entries[0].id),
    ]
    assert reversed_report is not None and reversed_report.status == "reversed"
    assert freed is not None and (freed.status, freed.settled_by_id) == ("reported", None)  # back in the queue
    assert "Rp9.000 dibatalkan" in (await notices(db, world.siti))[-1]
    await force(db, "koord12", "weighin.reverse", {"weighin": {"bank": world.bank_a, "entry": entries[0].id}},
                [["reverse:yes", "Ya"]])
    assert (await koord.texts(kind=Kind.CHOICE, choice="reverse:yes"))[0] == t("weighin.already_reversed")
    assert await balance(db, world) == 3_000


async def test_a_correction_never_takes_the_balance_below_zero(db: Database, engine: Engine, world: World) -> None:
    koord = chat(engine, db, "koord12")
    await weigh(koord)
    async with db.transaction() as session:
        session.add(LedgerEntry(account_id=world.siti_account, amount=-5_000, kind="withdrawal_hold"))
    for message in ("Koreksi setoran", "1"):
        await koord.send(message)
    assert (await koord.texts("Ya, batalkan setoran"))[0] == t("weighin.reverse_balance_low")
    assert await balance(db, world) == 4_000


# --- Permissions ---------------------------------------------------------------------------

PERMISSIONS = [
    # (who, action, allowed?)
    ("budi", "weigh_in", False),  # a resident
    ("koord12", "weigh_in", True),
    ("koord14", "weigh_in", False),  # coordinator of another RW
    ("admin", "weigh_in", True),
    ("budi", "verify_report", False),
    ("koord12", "verify_report", True),
    ("koord14", "verify_report", False),
    ("admin", "verify_report", True),
]


@pytest.mark.parametrize(("who", "action", "expected"), PERMISSIONS)
async def test_permission_table(
    db: Database, engine: Engine, world: World, who: str, action: str, expected: bool
) -> None:
    """Each tries the action by command, then with a replayed final button: the server decides."""
    person = chat(engine, db, who)
    if action == "weigh_in":
        first = await person.texts("/timbang 0812-3456-7890 PET 2")
        await force(db, who, "weighin.confirm", {"weighin": {
            "bank": world.bank_a, "account": world.siti_account, "items": [["plastik_pet", 2000]], "settle": [],
        }}, [["confirm:save", "Simpan"]])
        last = await person.texts(kind=Kind.CHOICE, choice="confirm:save")
    else:
        report_id = await self_report(db, world, [("plastik_pet", 2000)])
        first = await person.texts("/periksa")
        await force(db, who, "verify.report", {"verify": {"offset": 0, "report": report_id, "grams": {}}},
                    [["report:approve", "Setujui"]])
        last = await person.texts(kind=Kind.CHOICE, choice="report:approve")
    assert await balance(db, world) == (6_000 if expected else 0)
    assert (t("access.denied") in last) is not expected
    assert (await denials(db, action) > 0) is not expected
    if not expected:
        assert t("access.denied") in first or t("verify.none") in first
        assert await count(db, "SELECT count(*) FROM waste_report WHERE status != 'reported'") == 0


async def test_a_resident_does_not_see_the_coordinator_entries(db: Database, engine: Engine, world: World) -> None:
    [menu] = await chat(engine, db, "budi").send("MENU")
    assert t("menu.coordinate") not in [choice.label for choice in menu.choices]


# --- Bad input -----------------------------------------------------------------------------

BAD_LINES = [
    ("/timbang 9999 PET 2", t("weighin.member_unknown", member=9999, bank=SAMPLE)),
    ("/timbang 0899-0000-0000 PET 2", t("weighin.phone_unknown")),
    ("/timbang abc PET 2", t("weighin.member_invalid")),
    ("/timbang 1001 plastik 2", t("weighin.category_unknown", word="plastik", examples=", ".join(sorted(
        {w for w in weighin.category_aliases() if "_" not in w}
    )))),
    ("/timbang 1001 2 PET", t("weighin.weight_first")),
    ("/timbang 1001 PET", t("weighin.weight_missing", category="botol PET")),
    ("/timbang 1001 PET 150", t("weighin.weight_too_heavy", category="botol PET", limit="100 kg")),
    ("/timbang 1001 PET 60 pet 50", t("weighin.weight_too_heavy", category="botol PET", limit="100 kg")),
    ("/timbang 1001 PET 0", t("weighin.weight_zero", category="botol PET")),
    ("/timbang 1001 PET dua", t("weighin.category_unknown", word="dua", examples=", ".join(sorted(
        {w for w in weighin.category_aliases() if "_" not in w}
    )))),
]


@pytest.mark.parametrize(("typed", "expected"), BAD_LINES)
async def test_a_bad_weigh_in_line_gets_its_message_and_changes_nothing(
    db: Database, engine: Engine, world: World, typed: str, expected: str
) -> None:
    koord = chat(engine, db, "koord12")
    assert await koord.texts(typed) == [expected, t("weighin.ask_member", bank=SAMPLE)]
    assert await state(db, "koord12") == "weighin.member"
    assert await count(db, "SELECT count(*) FROM waste_report") == 0
    assert await count(db, "SELECT count(*) FROM ledger_entry") == 0
    assert await koord.texts("1001 PET 1")  # the next line is read normally
    assert await state(db, "koord12") == "weighin.confirm"


async def test_a_coordinator_outside_the_rw_is_refused_audited_and_nothing_changes(db: Database, engine: Engine, world: World) -> None:
    koord = chat(engine, db, "koord14")
    texts = await koord.texts("/timbang 0812-3456-7890 PET 2")
    assert texts[0] == t("access.denied")
    assert await koord.texts("1001 PET 2") == [t("weighin.member_unknown", member=1001, bank="Bank Sampah Unit Mawar")]
    async with db.transaction() as session:
        refused = (await session.execute(select(AuditEntry).where(AuditEntry.outcome == "denied"))).scalar_one()
        reports = (await session.execute(select(func.count(WasteReport.id)))).scalar_one()
    assert (refused.action, refused.target) == ("weigh_in", f"account:{world.siti_account}")
    assert refused.detail["rws"] and reports == 0


async def test_a_resident_left_in_a_coordinator_state_is_refused_at_the_next_message(db: Database, engine: Engine, world: World) -> None:
    await force(db, "budi", "weighin.member", {"weighin": {"bank": world.bank_a}}, [])
    assert await chat(engine, db, "budi").texts("1001 PET 2") == [t("access.denied"), t("menu.ask")]
    assert await denials(db, "weigh_in") == 1
    assert await count(db, "SELECT count(*) FROM waste_report") == 0


async def test_an_admin_chooses_the_bank_first_and_the_typed_line_waits_for_it(db: Database, engine: Engine, world: World) -> None:
    admin = chat(engine, db, "admin")
    [question] = await admin.send("/timbang 1001 PET 2")
    assert question.text == t("weighin.ask_bank") and {c.label for c in question.choices} == {SAMPLE, "Bank Sampah Unit Mawar"}
    summary, _ = await admin.texts(SAMPLE)
    assert "Siti Aminah (no. anggota 1001)" in summary


# --- The line itself -----------------------------------------------------------------------

ALIASES = weighin.category_aliases()
CODES = sorted(set(ALIASES.values()))


def test_every_category_has_an_alias_from_the_seed_data() -> None:
    assert {ALIASES[word] for word in ("pet", "botol_pet", "kardus", "hvs", "koran", "kaleng", "beling", "jelantah", "b3",
                                         "baterai", "kresek", "hdpe", "gelas", "besi", "tembaga", "organik", "residu")} == set(CODES)


@settings(max_examples=200, deadline=None)
@given(
    member=st.integers(min_value=1001, max_value=999_999),
    picks=st.lists(
        st.tuples(st.sampled_from(CODES), st.integers(min_value=1, max_value=10_000).map(lambda n: n * 10)),
        min_size=1, max_size=5, unique_by=lambda pick: pick[0],
    ),
    data=st.data(),
)
def test_a_written_line_reads_back_as_written(member: int, picks: list[tuple[str, int]], data: st.DataObject) -> None:
    words = [str(member)]
    for code, grams in picks:
        alias = data.draw(st.sampled_from(sorted(word for word, c in ALIASES.items() if c == code)))
        words += [alias.upper() if data.draw(st.booleans()) else alias, f"{grams // 1000},{grams % 1000:03d}"]
    parsed = parse_line(" ".join(words), ALIASES, 100_000)
    assert parsed.who == Who(member=member)
    assert parsed.items == tuple(picks)
