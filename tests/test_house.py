"""The house stands on three floors, `bot` on `handlers` on `storage`, and one time zone, the
`TIMEZONE` setting, answers every calendar question."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.reminders import next_weighing
from bot.settings import load_settings
from handlers.dialog.parsing import parse_schedule_time
from handlers.text.formatting import datetime_short
from storage import clock, stats

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("importer", "imported"), [
    ("storage/audit.py", "bot.app"), ("storage/audit.py", "handlers.menu"), ("handlers/menu.py", "bot.engine"),
])
def test_the_contract_refuses_an_import_that_runs_back_up(tmp_path: Path, importer: str, imported: str) -> None:
    for part in ("bot", "handlers", "storage"):
        shutil.copytree(ROOT / part, tmp_path / part)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert lint_imports(tmp_path).returncode == 0  # the copy as it is keeps the contract
    with (tmp_path / importer).open("a") as module:
        module.write(f"\nimport {imported}  # noqa: E402\n")
    broken = lint_imports(tmp_path)
    assert broken.returncode == 1
    layer, above = importer.split("/")[0], imported.split(".")[0]
    assert f"{layer} is not allowed to import {above}" in broken.stdout


@pytest.fixture
def makassar(tmp_path: Path) -> Iterator[None]:
    """A process set up for Asia/Makassar (WITA, UTC+8), put back to Jakarta afterwards."""
    App(load_settings(timezone="Asia/Makassar", database_url=f"sqlite:///{tmp_path / 'zone.db'}"))
    yield
    clock.use(ZoneInfo("Asia/Jakarta"))


NOON_UTC = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)  # Saturday 11.00 WIB, 12.00 WITA


def test_times_follow_jakarta_unless_set_otherwise() -> None:
    assert clock.zone() == ZoneInfo("Asia/Jakarta")
    assert datetime_short(NOON_UTC, "id") == "Sab, 5 Des 2026 11.00"


def test_the_timezone_setting_is_the_one_zone_of_every_calendar_question(makassar: None) -> None:
    assert datetime_short(NOON_UTC, "id") == "Sab, 5 Des 2026 12.00"
    assert clock.today(datetime(2026, 12, 5, 16, 30, tzinfo=UTC)).day == 6  # 00.30 WITA is already Sunday
    assert parse_schedule_time("besok 08.00", NOON_UTC) == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    assert parse_schedule_time("besok 08.00 WIB", NOON_UTC) == datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    assert next_weighing(6, time(8, 0), NOON_UTC) == datetime(2026, 12, 6, 8, 0, tzinfo=ZoneInfo("Asia/Makassar"))


def test_statistics_use_the_jakarta_rollups_only_for_jakarta_months(makassar: None) -> None:
    """The rollups hold Jakarta months (migration 0007); elsewhere a range is counted from the reports."""
    start, end = datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    assert stats.split(start, end) == stats.Split(edges=[(start, end)])
    clock.use(ZoneInfo("Asia/Jakarta"))
    assert stats.split(start, end).first is not None
