"""Pledge figures: per RW and package, what holds still running, confirmed pledges, funds received and
residents' gifts of savings add up to (a lapsed hold never counts, even before the scheduler marks
it), in the coordinators' statistics (upgrading coordinators see their RWs, admins every RW and the
waste statistics too) and in `ksbb export pledges --summary` (no names, no phones)."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import cli
from bot.engine import Engine
from handlers.coordinator import stats as stats_handler
from handlers.text.i18n import translate
from storage import pledges, stats
from storage.banks import ensure_account
from storage.db import Database
from storage.models import RW, Collaborator, Kelurahan, LedgerEntry, Offer, Pledge, WasteBank
from storage.models.roles import ADMIN, COORDINATOR, UPGRADING, WASTE
from storage.people import identify
from storage.roles import grant_role
from storage.types import utcnow
from tests.support import Direct

TERMS = pledges.Terms()
BERSAMA, LENGKAP = "Paket Penataan RW Bersama", "Paket Penataan RW Lengkap"
PHONE = "+6281299998888"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def offers_of(db: Database, kelurahan: str, number: int) -> tuple[int, dict[str, int]]:
    """A sample RW's id and its offers by package code."""
    async with db.transaction() as session:
        statement = (
            select(Offer.rw_id, Offer.package_code, Offer.id).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        rows = (await session.execute(statement)).all()
    return rows[0][0], {code: offer_id for _, code, offer_id in rows}


async def collaborator(db: Database, user: str) -> int:
    async with db.transaction() as session:
        person = (await identify(session, f"local:{user}", "local", user, "id", utcnow())).person
        person.name, person.consent_at, person.consent_version, person.locale_chosen = user, utcnow(), "1", True
        await session.flush()
        session.add(Collaborator(person_id=person.id, type="company", organisation=f"PT {user}",
                                 contact_name=user.title(), phone=PHONE, public=True))
        return person.id


async def pledge(db: Database, user: str, offer_id: int, amount: int, at: datetime, *moves: str) -> int:
    """A new collaborator's pledge made at `at`, moved along the given statuses."""
    person_id = await collaborator(db, user)
    async with db.transaction() as session:
        made = await pledges.pledge(session, person_id, offer_id, amount, at, hold=TERMS.hold,
                                    min_share=TERMS.min_share)
        assert isinstance(made, Pledge), made
        for status in moves:
            assert isinstance(await pledges.move(session, made.id, status, None, at), Pledge)
        return made.id


async def give(db: Database, user: str, offer_id: int, amount: int, at: datetime) -> None:
    """A resident with savings at the sample bank gives `amount` of them to the offer."""
    async with db.transaction() as session:
        person_id = (await identify(session, f"local:{user}", "local", user, "id", at)).person_id
        bank_id = (await session.execute(select(WasteBank.id).order_by(WasteBank.id))).scalars().first()
        account = await ensure_account(session, person_id, bank_id)  # type: ignore[arg-type]
        session.add(LedgerEntry(account_id=account.id, amount=amount, kind="deposit"))
        await session.flush()
        gift = await pledges.give_savings(session, person_id, account.id, offer_id, amount, at, None)
        assert isinstance(gift, Pledge), gift


@pytest.fixture
async def funded(db: Database) -> tuple[int, int]:
    """Karet Tengsin RW 005 and RW 007 with pledges in every state (RW 005's ids first)."""
    now = utcnow()
    rw5, offers5 = await offers_of(db, "Karet Tengsin", 5)
    rw7, offers7 = await offers_of(db, "Karet Tengsin", 7)
    await pledge(db, "waiting", offers5["bersama"], 25_000_000, now)
    expired = now - TERMS.hold - timedelta(minutes=1)
    await pledge(db, "expired", offers5["bersama"], 5_000_000, expired)  # its hold ran out; not marked lapsed yet
    await pledge(db, "rejected", offers5["bersama"], 3_000_000, now, pledges.REJECTED)
    await pledge(db, "cancelled", offers5["bersama"], 4_000_000, now, pledges.CONFIRMED, pledges.CANCELLED)
    await pledge(db, "confirmed", offers5["bersama"], 10_000_000, now, pledges.CONFIRMED)
    await pledge(db, "paid", offers5["bersama"], 2_000_000, now, pledges.CONFIRMED, pledges.RECEIVED)
    await pledge(db, "works", offers5["lengkap"], 750_000_000, now, pledges.CONFIRMED, pledges.RECEIVED,
                 pledges.IN_PROGRESS)
    await give(db, "siti", offers5["bersama"], 10_000, now)
    await give(db, "budi", offers5["bersama"], 5_000, now)
    await pledge(db, "done", offers7["bersama"], 1_000_000, now, pledges.CONFIRMED, pledges.RECEIVED,
                 pledges.IN_PROGRESS, pledges.COMPLETED)
    return rw5, rw7


async def test_figures_sum_each_rw_and_package_and_a_lapsed_hold_never_counts(
    db: Database, funded: tuple[int, int]
) -> None:
    rw5, rw7 = funded
    async with db.transaction() as session:
        everywhere = await stats.pledge_figures(session, None, utcnow())
        only_rw7 = await stats.pledge_figures(session, [rw7], utcnow())
    assert everywhere == [
        stats.PledgeFigures(rw5, "Karet Tengsin", 5, LENGKAP, "lengkap", received=750_000_000),
        stats.PledgeFigures(rw5, "Karet Tengsin", 5, BERSAMA, "bersama", pledged=25_000_000, confirmed=10_000_000,
                            received=2_000_000, sedekah=15_000),
        stats.PledgeFigures(rw7, "Karet Tengsin", 7, BERSAMA, "bersama", received=1_000_000),
    ]
    assert only_rw7 == everywhere[2:]
    totals = stats.pledge_totals(everywhere)
    assert (totals.pledged, totals.confirmed, totals.received, totals.sedekah, totals.total) == (
        25_000_000, 10_000_000, 753_000_000, 15_000, 788_015_000)


async def test_a_hold_stops_counting_at_its_expiry(db: Database, funded: tuple[int, int]) -> None:
    async with db.transaction() as session:
        later = await stats.pledge_figures(session, None, utcnow() + TERMS.hold + timedelta(minutes=1))
    assert [offer.pledged for offer in later] == [0, 0, 0]


async def person(
    db: Database, user: str, role: str, strand: str | None = None, rw_ids: list[int] | None = None
) -> None:
    async with db.transaction() as session:
        found = await identify(session, f"local:{user}", "local", user, "id", utcnow())
        found.person.locale_chosen = True
        await grant_role(session, found.person_id, role, utcnow(), strand=strand, rw_ids=rw_ids or [])


async def statistics(engine: Engine, db: Database, user: str) -> list:  # type: ignore[type-arg]
    chat = Direct(engine, db, user)
    await chat.send("MENU")
    await chat.send("Menu koordinator")
    return await chat.send("Statistik")


def figures_line(package: str, pledged: str = "Rp0", confirmed: str = "Rp0", received: str = "Rp0",
                 sedekah: str = "Rp0") -> str:
    return t("stats.pledges_line", package=package, pledged=pledged, confirmed=confirmed, received=received,
             sedekah=sedekah)


RW5_LINES = [
    "RW 005 Karet Tengsin",
    figures_line(LENGKAP, received="Rp750.000.000"),
    figures_line(BERSAMA, pledged="Rp25.000.000", confirmed="Rp10.000.000", received="Rp2.000.000", sedekah="Rp15.000"),
]


async def test_an_upgrading_coordinator_sees_the_figures_of_their_rws_only(
    db: Database, engine: Engine, funded: tuple[int, int]
) -> None:
    rw5, _ = funded
    await person(db, "koorpt", COORDINATOR, UPGRADING, [rw5])
    [figures, menu] = await statistics(engine, db, "koorpt")
    assert figures.image is None  # no waste role, no waste chart
    assert figures.text.split("\n") == [
        t("stats.pledges_heading", rws=1), *RW5_LINES,
        t("stats.pledges_total", pledged="Rp25.000.000", confirmed="Rp10.000.000", received="Rp752.000.000",
          sedekah="Rp15.000"),
    ]
    assert "Budi" not in figures.text and "siti" not in figures.text and PHONE not in figures.text
    assert menu.text == t("coord.ask")


async def test_an_admin_sees_the_waste_chart_and_every_rws_figures(
    db: Database, engine: Engine, funded: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    await person(db, "admin", ADMIN)
    [waste, figures, _menu] = await statistics(engine, db, "admin")
    assert waste.image is not None and waste.image.content.startswith(b"\x89PNG")
    total = t("stats.pledges_total", pledged="Rp25.000.000", confirmed="Rp10.000.000", received="Rp753.000.000",
              sedekah="Rp15.000")
    assert figures.text.split("\n") == [
        t("stats.pledges_heading", rws=2), *RW5_LINES, "RW 007 Karet Tengsin",
        figures_line(BERSAMA, received="Rp1.000.000"), total,
    ]
    monkeypatch.setattr(stats_handler, "SHOWN_RWS", 1)  # only the most funded RW, the rest in the total
    [_waste, figures, _menu] = await statistics(engine, db, "admin")
    assert figures.text.split("\n") == [
        t("stats.pledges_heading", rws=2), *RW5_LINES, t("stats.pledges_more", count=1), total,
    ]


async def test_without_pledges_an_upgrading_coordinator_is_told_and_a_waste_coordinator_sees_no_figures(
    db: Database, engine: Engine
) -> None:
    rw5, _ = await offers_of(db, "Karet Tengsin", 5)
    await person(db, "koorpt", COORDINATOR, UPGRADING, [rw5])
    await person(db, "koorsampah", COORDINATOR, WASTE, [rw5])
    assert [reply.text for reply in await statistics(engine, db, "koorpt")] == [
        t("stats.pledges_none"), t("coord.ask")]
    [waste, _menu] = await statistics(engine, db, "koorsampah")
    assert waste.image is not None and t("stats.pledges_none") not in waste.text


async def test_the_summary_export_has_one_row_per_rw_and_package_and_no_contacts(
    db: Database, database_url: str, funded: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "ringkasan.csv"
    assert await asyncio.to_thread(cli.main, ["export", "pledges", "--summary", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"3 rows written to {out}."
    content = out.read_text(encoding="utf-8-sig")
    assert list(csv.reader(content.splitlines())) == [
        ["kelurahan", "rw", "paket", "menunggu_konfirmasi_rp", "dikonfirmasi_rp", "diterima_rp", "sedekah_rp",
         "jumlah_rp"],
        ["Karet Tengsin", "005", "lengkap", "0", "0", "750000000", "0", "750000000"],
        ["Karet Tengsin", "005", "bersama", "25000000", "10000000", "2000000", "15000", "37015000"],
        ["Karet Tengsin", "007", "bersama", "0", "0", "1000000", "0", "1000000"],
    ]
    assert "62812" not in content and "PT " not in content and "siti" not in content

    detailed = tmp_path / "ikrar.csv"
    assert await asyncio.to_thread(cli.main, ["export", "pledges", "--out", str(detailed)]) == 0
    assert len(detailed.read_text(encoding="utf-8-sig").splitlines()) > 4  # without --summary: one row a pledge
