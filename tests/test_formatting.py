"""Display through Babel: Rupiah, weights, dates and times in Jakarta, progress bars, numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.text.formatting import (
    date_long,
    datetime_short,
    number,
    progress_bar,
    rupiah,
    time_of_day,
    weight,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
QUICK = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(("amount", "locale", "shown"), [
    (12_500, "id", "Rp12.500"), (150_000_000, "id", "Rp150.000.000"), (0, "id", "Rp0"), (1, "id", "Rp1"),
    (-12_500, "id", "-Rp12.500"), (12_500, "id_ID", "Rp12.500"), (12_500, "en", "IDR 12,500"),
    (150_000_000, "en", "IDR 150,000,000"), (-12_500, "en", "-IDR 12,500"), (12_500, "en_US", "IDR 12,500"),
])
def test_rupiah(amount: int, locale: str, shown: str) -> None:
    assert rupiah(amount, locale) == shown


@pytest.mark.parametrize(("grams", "locale", "shown"), [
    (2500, "id", "2,5 kg"), (1000, "id", "1 kg"), (1250, "id", "1,25 kg"), (1234, "id", "1,23 kg"),
    (500, "id", "500 g"), (999, "id", "999 g"), (1, "id", "1 g"), (0, "id", "0 g"), (100_000, "id", "100 kg"),
    (1_500_000, "id", "1.500 kg"), (-2500, "id", "-2,5 kg"), (2500, "en", "2.5 kg"), (1250, "en", "1.25 kg"),
    (500, "en", "500 g"), (1_500_000, "en", "1,500 kg"),
])
def test_weight(grams: int, locale: str, shown: str) -> None:
    assert weight(grams, locale) == shown


@pytest.mark.parametrize(("day", "locale", "shown"), [
    (date(2026, 12, 5), "id", "Sabtu, 5 Desember 2026"), (date(2026, 12, 6), "id", "Minggu, 6 Desember 2026"),
    (date(2026, 8, 17), "id", "Senin, 17 Agustus 2026"), (date(2026, 12, 5), "en", "Saturday, 5 December 2026"),
])
def test_date_long(day: date, locale: str, shown: str) -> None:
    assert date_long(day, locale) == shown


@pytest.mark.parametrize(("moment", "locale", "shown"), [
    (datetime(2026, 12, 5, 8, 0, tzinfo=JAKARTA), "id", "Sab, 5 Des 2026 08.00"),
    (datetime(2026, 12, 5, 1, 0, tzinfo=UTC), "id", "Sab, 5 Des 2026 08.00"),
    (datetime(2026, 12, 4, 17, 30, tzinfo=UTC), "id", "Sab, 5 Des 2026 00.30"),
    (datetime(2026, 12, 5, 8, 0, tzinfo=ZoneInfo("Asia/Makassar")), "id", "Sab, 5 Des 2026 07.00"),
    (datetime(2026, 12, 5, 1, 0, tzinfo=UTC), "en", "Sat, 5 Dec 2026 08:00"),
    (datetime(2026, 12, 5, 12, 5, tzinfo=UTC), "en", "Sat, 5 Dec 2026 19:05"),
])
def test_datetime_short_in_jakarta(moment: datetime, locale: str, shown: str) -> None:
    assert datetime_short(moment, locale) == shown


def test_datetime_short_other_zone_and_naive() -> None:
    assert datetime_short(datetime(2026, 12, 5, 1, 0, tzinfo=UTC), "id", tz=ZoneInfo("Asia/Jayapura")) == (
        "Sab, 5 Des 2026 10.00")
    with pytest.raises(ValueError):
        datetime_short(datetime(2026, 12, 5, 8, 0), "id")


@pytest.mark.parametrize(("moment", "locale", "shown"), [
    (time(8, 0), "id", "08.00"), (time(19, 30), "id", "19.30"), (time(0, 5), "id", "00.05"),
    (time(8, 0), "en", "08:00"), (time(19, 30), "en", "19:30"),
])
def test_time_of_day(moment: time, locale: str, shown: str) -> None:
    assert time_of_day(moment, locale) == shown


@pytest.mark.parametrize(("n", "locale", "shown"), [
    (1200, "id", "1.200"), (3400, "id", "3.400"), (7, "id", "7"), (1_234_567, "id", "1.234.567"),
    (-1200, "id", "-1.200"), (1200, "en", "1,200"),
])
def test_number(n: int, locale: str, shown: str) -> None:
    assert number(n, locale) == shown


@pytest.mark.parametrize(("fraction", "shown"), [
    (0.6, "▓▓▓▓▓▓░░░░ 60%"), (0, "░░░░░░░░░░ 0%"), (1, "▓▓▓▓▓▓▓▓▓▓ 100%"), (1.0, "▓▓▓▓▓▓▓▓▓▓ 100%"),
    (0.996, "▓▓▓▓▓▓▓▓▓░ 99%"), (0.99999999999, "▓▓▓▓▓▓▓▓▓░ 99%"), (0.29, "▓▓░░░░░░░░ 29%"),
    (0.05, "░░░░░░░░░░ 5%"), (1.7, "▓▓▓▓▓▓▓▓▓▓ 100%"), (-0.3, "░░░░░░░░░░ 0%"),
    (float("nan"), "░░░░░░░░░░ 0%"), (float("inf"), "▓▓▓▓▓▓▓▓▓▓ 100%"),
    (Fraction(2, 3), "▓▓▓▓▓▓░░░░ 66%"), (Decimal("0.125"), "▓░░░░░░░░░ 12%"),
])
def test_progress_bar(fraction: float | Fraction | Decimal, shown: str) -> None:
    assert progress_bar(fraction) == shown


def test_progress_bar_width() -> None:
    assert progress_bar(0.5, width=4) == "▓▓░░ 50%"


@QUICK
@given(st.integers(0, 10**9), st.integers(1, 10**9), st.booleans())
def test_progress_never_overstates(done: int, target: int, as_float: bool) -> None:
    bar, _, percent = progress_bar(done / target if as_float else Fraction(done, target)).partition(" ")
    shown = int(percent.removesuffix("%"))
    assert len(bar) == 10
    assert (shown == 100) == (done >= target)
    assert shown <= 100 * Fraction(done, target) < shown + 1 or done > target
    assert bar.count("▓") <= 10 * Fraction(done, target)
