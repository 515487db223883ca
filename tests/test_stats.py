"""Statistics and exports, limited to what each coordinator may see."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import cli
from bot.engine import Engine
from handlers import build_dialog
from handlers.documents.export import mask_phone, neutralise
from handlers.text.i18n import translate
from storage.db import Database
from storage.models import Person
from storage.models.roles import COORDINATOR, WASTE
from storage.people import identify
from storage.places import get_or_create_rw
from storage.reports import create_report
from storage.roles import grant_role
from storage.types import utcnow
from tests.support import Direct

KEBON_MELATI, MENTENG = "31.71.07.1005", "31.71.06.1001"


def t(key: str, **values: object) -> str:
    return translate("id", key, **values)


async def resident(db: Database, key: str, name: str, kelurahan: str, number: int, grams: int) -> None:
    """A consented resident with one verified deposit of PET bottles this month."""
    now = utcnow()
    async with db.transaction() as session:
        rw = await get_or_create_rw(session, kelurahan, number)
        identity = await identify(session, key, key.split(":")[0], key.split(":")[1], "id", now)
        person = identity.person
        person.name, person.consent_at, person.consent_version, person.rw_id = name, now, "2026-11", rw.id
        report = await create_report(session, person_id=person.id, rw_id=rw.id, bank_id=None,
                                     items=[("plastik_pet", grams)], prices={"plastik_pet": 3000}, photo=None, now=now)
        report.status = "verified"


@pytest.fixture
async def coordinator(db: Database) -> Direct:
    await resident(db, "whatsapp:+6281234567890", "=HYPERLINK(\"http://x\")", KEBON_MELATI, 12, 2500)
    await resident(db, "local:tetangga", "Budi", MENTENG, 2, 9000)
    async with db.transaction() as session:
        rw12 = await get_or_create_rw(session, KEBON_MELATI, 12)
        koord = await identify(session, "local:koord", "local", "koord", "id", utcnow())
        koord.person.locale_chosen = True
        await grant_role(session, koord.person_id, COORDINATOR, utcnow(), strand=WASTE, rw_ids=[rw12.id])
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, user="koord")
    await chat.send("/start")
    return chat


async def test_statistics_come_as_a_chart_and_a_summary_of_the_coordinators_rws(coordinator: Direct) -> None:
    await coordinator.send("Menu koordinator")
    [summary, menu] = await coordinator.send("Statistik")
    assert summary.image is not None and summary.image.content.startswith(b"\x89PNG")
    assert summary.text.startswith(t("stats.summary", this="2,5 kg", last="0 g", reporting=1, registered=1))
    assert "RW 012 Kebon Melati: 2,5 kg" in summary.text and "Menteng" not in summary.text
    assert menu.text == t("coord.ask")


async def test_the_export_holds_only_the_coordinators_rws_masks_phones_and_defuses_formulas(coordinator: Direct) -> None:
    await coordinator.send("Menu koordinator")
    await coordinator.send("Unduh data setoran")
    [export, _menu] = await coordinator.send("CSV")
    assert export.document is not None and export.text == t("stats.export_ready", count=1)
    rows = list(csv.reader(io.StringIO(export.document.content.decode("utf-8-sig"))))
    assert rows[1][2:4] == ["Kebon Melati", "012"]
    assert rows[1][5] == "'=HYPERLINK(\"http://x\")" and rows[1][6] == "62812*****890"
    assert len(rows) == 2


async def test_residents_cannot_open_statistics(db: Database) -> None:
    chat = Direct(Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0), db, user="warga")
    await chat.send("/start")
    menu = (await chat.send("1"))[-1]
    assert "Menu koordinator" not in [c.label for c in menu.choices]


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+62812", "'+62812"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("Budi", "Budi"), (12, 12),
])
def test_formula_like_cells_are_neutralised(value: object, expected: object) -> None:
    assert neutralise(value) == expected


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("+6281234567890") == "62812*****890"
    assert mask_phone(None) == ""


async def test_the_export_command_writes_csv_and_xlsx_for_a_scope(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await resident(db, "local:a", "Siti", KEBON_MELATI, 12, 1000)
    await resident(db, "local:b", "Budi", MENTENG, 2, 2000)
    monkeypatch.setenv("DATABASE_URL", database_url)
    xlsx = tmp_path / "out.xlsx"
    code = await asyncio.to_thread(cli.main, ["export", "deposits", "--scope", "kelurahan:Kebon Melati",
                                              "--format", "xlsx", "--output", str(xlsx)])
    assert code == 0
    sheet = load_workbook(xlsx).active
    assert [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Kebon Melati"]
    assert await asyncio.to_thread(cli.main, ["export", "deposits", "--scope", "kelurahan:Atlantis"]) == 1
    assert "has no RW" in capsys.readouterr().err
    async with db.transaction() as session:
        assert len((await session.execute(select(Person))).scalars().all()) == 2
