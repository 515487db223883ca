"""Our own tolerant parsers: every accepted and rejected form, and properties: displays read back, units and
multipliers consistent, order kept, limits refused and never clipped, only ParseError on arbitrary text."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import get_day_names
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.dialog.parsing import (
    REASONS,
    ParseError,
    parse_amount,
    parse_date,
    parse_rw_number,
    parse_schedule_time,
    parse_weekday_time,
    parse_weight,
)
from handlers.text.formatting import date_long, datetime_short, rupiah, time_of_day, weight

# Thursday 3 December 2026, 10.00 in Jakarta.
JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=JAKARTA)
QUICK = settings(max_examples=200, deadline=None)


def reason(parse, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError) as caught:
        parse(*args)
    return caught.value.reason


def jakarta(*args: int) -> datetime:
    return datetime(*args, tzinfo=JAKARTA)


# --- Weights -------------------------------------------------------------------------------

WEIGHTS = {
    "2,5": 2500, "2.5": 2500, "2,5 kg": 2500, "1,5kg": 1500, "2 kilo": 2000, "2 kg": 2000,
    "500 gr": 500, "500 gram": 500, "500g": 500, "5 ons": 500, "setengah kilo": 500, "1/2 kg": 500,
    "½ kg": 500, "seperempat kilo": 250, "1 1/2 kg": 1500, "1½ kg": 1500, "0,75": 750,
    "  2,5  ": 2500, "2,5 KG": 2500, "2,5 kg.": 2500, "2,5 Kg": 2500, "2,5 kilogram": 2500,
    "2,5 kilo gram": 2500, "2 ㎏": 2000, "setengah": 500, "tiga perempat kg": 750, "sekilo": 1000,
    "2 setengah kilo": 2500, "2,5 ons": 250, "1 kg 500 g": 1500, "1 kilo 2 ons": 1200,
    "sekitar 2 kg": 2000, "± 2 kg": 2000, "2/3 kg": 667, "100 kg": 100_000, "0,0005": 1,
    "1,2345": 1235,
    # A dot before exactly three digits: thousands with grams, a decimal otherwise.
    "1.500 gram": 1500, "1,500 gram": 1500, "1.234,5 gram": 1235, "1.500": 1500, "1,500": 1500,
    "1.500 kg": 1500, "1.25 kg": 1250, "0.500 gram": 1, "12.345 kg": 12_345,
}
BAD_WEIGHTS = {
    "0": "zero", "0 kg": "zero", "0,0": "zero", "0,0001": "zero", "-2": "negative", "- 2 kg": "negative",
    "−2 kg": "negative", "-500 g": "negative", "dua": "not_a_number", "dua kilo": "not_a_number",
    "🙂": "not_a_number", "": "not_a_number", "   ": "not_a_number", "kg": "not_a_number",
    "2 3": "not_a_number", "2,5 3": "not_a_number", "1/0 kg": "not_a_number", "1 3/2 kg": "not_a_number",
    "2..5": "not_a_number", "1.2.3": "not_a_number", "500 g 1 kg": "not_a_number", "se": "not_a_number",
    "2 kg 3 kg": "not_a_number", "2,5 setengah": "not_a_number", "101 kg": "too_heavy",
    "100,001": "too_heavy", "200": "too_heavy", "1.500.000 gram": "too_heavy", "2 ton": "unknown_unit",
    "2 liter": "unknown_unit", "2 karung": "unknown_unit",
}


@pytest.mark.parametrize(("text", "grams"), WEIGHTS.items())
def test_weight_forms_people_type(text: str, grams: int) -> None:
    assert parse_weight(text) == grams


@pytest.mark.parametrize(("text", "code"), BAD_WEIGHTS.items())
def test_weights_refused_with_a_reason(text: str, code: str) -> None:
    assert reason(parse_weight, text) == code


def test_weight_limit_is_the_callers() -> None:
    assert parse_weight("150 kg", max_grams=200_000) == 150_000
    assert reason(parse_weight, "2 kg", 1_000) == "too_heavy"


@QUICK
@given(st.integers(1, 100_000), st.sampled_from(["id", "en"]))
def test_weight_display_reads_back_within_its_rounding(grams: int, locale: str) -> None:
    assert abs(parse_weight(weight(grams, locale)) - grams) <= 5


@QUICK
@given(st.integers(1, 100_000), st.sampled_from([",", "."]),
       st.sampled_from(["", " kg", "kg", " kilo", " KG", " kg."]), st.booleans())
def test_kilograms_with_comma_or_dot_read_exactly(grams: int, separator: str, unit: str, padded: bool) -> None:
    whole, rest = divmod(grams, 1000)
    decimals = f"{rest:03d}" if padded else f"{rest:03d}".rstrip("0")
    text = f"{whole}{separator}{decimals}{unit}" if decimals else f"{whole}{unit}"
    assert parse_weight(text) == grams


@QUICK
@given(st.integers(1, 100_000), st.sampled_from([",", "."]), st.sampled_from([" gram", " gr", "g", " G"]))
def test_grams_with_thousands_separators_read_exactly(grams: int, separator: str, unit: str) -> None:
    assert parse_weight(f"{grams:,}".replace(",", separator) + unit) == grams


@QUICK
@given(st.integers(1, 100), st.sampled_from(["kg", " kg", " kilo", " KG", " kilogram"]))
def test_whole_kilograms_are_a_thousand_grams_each(kilos: int, unit: str) -> None:
    assert parse_weight(f"{kilos}{unit}") == kilos * 1000
    assert parse_weight(str(kilos)) == kilos * 1000  # a bare number is kilograms


@QUICK
@given(st.integers(1, 1000), st.sampled_from([" ons", "ons"]))
def test_an_ons_is_a_hundred_grams(ons: int, unit: str) -> None:
    assert parse_weight(f"{ons}{unit}") == ons * 100


@QUICK
@given(st.integers(0, 99), st.integers(1, 999), st.sampled_from([("kg", "g"), (" kilo", " gram"), (" kg", " gr")]))
def test_kilograms_and_grams_add_up(kilos: int, grams: int, units: tuple[str, str]) -> None:
    written = f"{kilos}{units[0]} {grams}{units[1]}" if kilos else f"{grams}{units[1]}"
    assert parse_weight(written) == kilos * 1000 + grams


@QUICK
@given(st.integers(1, 999), st.sampled_from(["id", "en"]))
def test_weights_under_a_kilogram_display_and_read_back_exactly(grams: int, locale: str) -> None:
    assert parse_weight(weight(grams, locale)) == grams


@QUICK
@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_weight_reading_keeps_the_order_of_the_amounts_written(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert parse_weight(f"{low / 1000:.3f} kg") <= parse_weight(f"{high / 1000:.3f} kg")


@QUICK
@given(st.integers(1, 300_000), st.integers(1, 200_000))
def test_a_weight_over_the_limit_is_too_heavy_and_never_clipped(grams: int, limit: int) -> None:
    try:
        assert parse_weight(f"{grams} g", max_grams=limit) == grams
        assert grams <= limit
    except ParseError as error:
        assert error.reason == "too_heavy" and grams > limit


# --- Amounts -------------------------------------------------------------------------------

AMOUNTS = {
    "5000000": 5_000_000, "5.000.000": 5_000_000, "Rp 5.000.000": 5_000_000, "Rp5.000.000,-": 5_000_000,
    "Rp 5.000.000,-": 5_000_000, "Rp 5.000.000,00": 5_000_000, "Rp. 5.000.000": 5_000_000,
    "rp5000000": 5_000_000, "5.000.000 rupiah": 5_000_000, "5 000 000": 5_000_000, "IDR 5,000,000": 5_000_000,
    "5,000,000.00": 5_000_000, "5 juta": 5_000_000, "5jt": 5_000_000, "5 jt": 5_000_000, "5 JT": 5_000_000,
    "2,5 juta": 2_500_000, "2.5 juta": 2_500_000, "2,5jt": 2_500_000, "1,2 miliar": 1_200_000_000,
    "1,2 M": 1_200_000_000, "1,2 milyar": 1_200_000_000, "500 ribu": 500_000, "500rb": 500_000,
    "500k": 500_000, "500 K": 500_000, "2 juta 500 ribu": 2_500_000, "Rp 25.000.000": 25_000_000,
    "1.500 juta": 1_500_000_000, "1,250 juta": 1_250_000, "12,500": 12_500, "5.000": 5000,
    "100 miliar": 100_000_000_000, "Rp12.500,50": 12_501, "5 million": 5_000_000,
}
BAD_AMOUNTS = {
    "0": "zero", "Rp 0": "zero", "0 juta": "zero", "-5000": "negative", "-Rp5.000": "negative",
    "Rp -5.000": "negative", "Rp-5.000.000": "negative", "lima juta": "not_a_number", "Rp": "not_a_number",
    "": "not_a_number", "abc": "not_a_number", "5.000.00": "not_a_number", "5 3": "not_a_number",
    "500 ribu 2 juta": "not_a_number", "2 juta 500": "not_a_number", "🙂": "not_a_number",
    "5 dolar": "unknown_unit", "5 usd": "unknown_unit", "100,1 miliar": "too_much",
    "200 miliar": "too_much", "1 triliun": "too_much", "999999999999999999999999": "too_much",
}


@pytest.mark.parametrize(("text", "rupiah_"), AMOUNTS.items())
def test_amount_forms_people_type(text: str, rupiah_: int) -> None:
    assert parse_amount(text) == rupiah_


@pytest.mark.parametrize(("text", "code"), BAD_AMOUNTS.items())
def test_amounts_refused_with_a_reason(text: str, code: str) -> None:
    assert reason(parse_amount, text) == code


def test_amount_limit_is_the_callers() -> None:
    assert reason(parse_amount, "2 juta", 1_000_000) == "too_much"


@QUICK
@given(st.integers(1, 10**11), st.sampled_from(["id", "en"]))
def test_rupiah_display_reads_back(amount: int, locale: str) -> None:
    assert parse_amount(rupiah(amount, locale)) == amount


@QUICK
@given(st.integers(1, 10**11), st.sampled_from(["", "Rp", "Rp ", "Rp. "]), st.sampled_from(["", ",-", ",00", " rupiah"]))
def test_dotted_thousands_read_back(amount: int, prefix: str, suffix: str) -> None:
    assert parse_amount(f"{amount:,}".replace(",", ".")) == amount
    assert parse_amount(prefix + f"{amount:,}".replace(",", ".") + suffix) == amount


@QUICK
@given(st.integers(1, 10**11))
def test_plain_digits_read_as_themselves(amount: int) -> None:
    assert parse_amount(str(amount)) == amount


MULTIPLIER_WORDS = {"ribu": 10**3, "rb": 10**3, "k": 10**3, "juta": 10**6, "jt": 10**6, "miliar": 10**9, "M": 10**9}


@QUICK
@given(st.integers(1, 100), st.sampled_from(sorted(MULTIPLIER_WORDS)), st.sampled_from(["", " "]))
def test_multipliers_multiply(count: int, word: str, space: str) -> None:
    assert parse_amount(f"{count}{space}{word}") == count * MULTIPLIER_WORDS[word]


@QUICK
@given(st.integers(1, 999), st.integers(1, 9), st.sampled_from([",", "."]))
def test_one_decimal_of_a_million_is_a_hundred_thousand(whole: int, tenth: int, separator: str) -> None:
    assert parse_amount(f"{whole}{separator}{tenth} juta") == whole * 10**6 + tenth * 10**5


@QUICK
@given(st.integers(1, 99_999), st.integers(1, 999))
def test_millions_and_thousands_add_up(millions: int, thousands: int) -> None:
    assert parse_amount(f"{millions} juta {thousands} ribu") == millions * 10**6 + thousands * 10**3


@QUICK
@given(st.integers(1, 2 * 10**11), st.integers(1, 10**11))
def test_an_amount_over_the_limit_is_too_much_and_never_clipped(amount: int, limit: int) -> None:
    try:
        assert parse_amount(rupiah(amount, "id"), max_rupiah=limit) == amount
        assert amount <= limit
    except ParseError as error:
        assert error.reason == "too_much" and amount > limit


@QUICK
@given(st.integers(1, 10**11), st.sampled_from(["-", "- ", "Rp -", "-Rp", "-Rp "]))
def test_a_minus_sign_anywhere_before_the_number_is_negative(amount: int, prefix: str) -> None:
    assert reason(parse_amount, f"{prefix}{amount:,}".replace(",", ".")) == "negative"


# --- RW numbers ----------------------------------------------------------------------------

RWS = {"12": 12, "012": 12, "RW 12": 12, "rw12": 12, "Rw. 012": 12, "RW-12": 12, "RW: 7": 7, " rw 99 ": 99,
       "1": 1, "RT 03/RW 012": 12, "RW 012/RT 003": 12, "rt 3 rw 5": 5}
BAD_RWS = {"0": "out_of_range", "RW 000": "out_of_range", "100": "out_of_range", "RW 0100": "out_of_range",
           "-3": "out_of_range", "9" * 5000: "out_of_range", "dua belas": "not_a_number", "RW": "not_a_number",
           "RT 3": "not_a_number", "12a": "not_a_number", "": "not_a_number", "RW 12 13": "not_a_number"}


@pytest.mark.parametrize(("text", "rw"), RWS.items())
def test_rw_forms(text: str, rw: int) -> None:
    assert parse_rw_number(text) == rw


@pytest.mark.parametrize(("text", "code"), BAD_RWS.items())
def test_rw_refused_with_a_reason(text: str, code: str) -> None:
    assert reason(parse_rw_number, text) == code


@given(st.integers(1, 99))
def test_rw_padded_reads_back(rw: int) -> None:
    assert parse_rw_number(f"RW {rw:03d}") == rw
    assert parse_rw_number(str(rw)) == rw


# --- Schedule times ------------------------------------------------------------------------

MOMENTS = {
    "besok 08.00": jakarta(2026, 12, 4, 8, 0), "besok 8:00": jakarta(2026, 12, 4, 8, 0),
    "Besok jam 8": jakarta(2026, 12, 4, 8, 0), "besok 8": jakarta(2026, 12, 4, 8, 0),
    "hari ini 19.30": jakarta(2026, 12, 3, 19, 30), "19.30": jakarta(2026, 12, 3, 19, 30),
    "lusa 07.00": jakarta(2026, 12, 5, 7, 0), "6/12 08.00": jakarta(2026, 12, 6, 8, 0),
    "06-12-2026 08.00": jakarta(2026, 12, 6, 8, 0), "6/12/26 08.00": jakarta(2026, 12, 6, 8, 0),
    "2026-12-06 08.00": jakarta(2026, 12, 6, 8, 0), "6 Desember 08.00": jakarta(2026, 12, 6, 8, 0),
    "6 Des 2026 8.00": jakarta(2026, 12, 6, 8, 0), "6 Des. 2026, 8.00 WIB": jakarta(2026, 12, 6, 8, 0),
    "Desember 6 08:00": jakarta(2026, 12, 6, 8, 0), "Minggu, 6 Desember 2026 08.00": jakarta(2026, 12, 6, 8, 0),
    "Sabtu 08.00": jakarta(2026, 12, 5, 8, 0), "sabtu depan jam 8 pagi": jakarta(2026, 12, 5, 8, 0),
    "Kamis 11.00": jakarta(2026, 12, 3, 11, 0), "Kamis 09.00": jakarta(2026, 12, 10, 9, 0),
    "besok 08.00 WIB": jakarta(2026, 12, 4, 8, 0), "besok 08.00 WITA": jakarta(2026, 12, 4, 7, 0),
    "besok 08.00 WIT": jakarta(2026, 12, 4, 6, 0), "besok jam 7 malam": jakarta(2026, 12, 4, 19, 0),
    "nanti malam jam 7": jakarta(2026, 12, 3, 19, 0), "besok jam 2 siang": jakarta(2026, 12, 4, 14, 0),
    "besok jam 4 sore": jakarta(2026, 12, 4, 16, 0), "besok pukul 08.00.": jakarta(2026, 12, 4, 8, 0),
    "5/1 08.00": jakarta(2027, 1, 5, 8, 0), "tomorrow at 8 am": jakarta(2026, 12, 4, 8, 0),
    "tomorrow 8:30 p.m.": jakarta(2026, 12, 4, 20, 30), "Sat, 5 Dec 2026 08:00": jakarta(2026, 12, 5, 8, 0),
    "Jum'at 13.00": jakarta(2026, 12, 4, 13, 0),
}
BAD_MOMENTS = {
    "08.00": "in_the_past", "hari ini 08.00": "in_the_past", "1/12 08.00": "in_the_past",
    "1 Des 2025 08.00": "in_the_past", "3/12/2026 09.59": "in_the_past", "besok": "missing_time",
    "6 Desember": "missing_time", "Sabtu": "missing_time", "Sabtu, 6 Desember 2026 08.00": "weekday_mismatch",
    "besok Sabtu 08.00": "weekday_mismatch", "besok 25.00": "not_a_time", "besok 08.60": "not_a_time",
    "31/2 08.00": "not_a_time", "6/13 08.00": "not_a_time", "besok 19.00 pagi": "not_a_time", "": "not_a_time",
    "kapan-kapan": "not_a_time", "🙂": "not_a_time", "setiap Sabtu 08.00": "not_a_time",
    "Sabtu 08.00-10.00": "not_a_time", "besok lusa 08.00": "not_a_time", "6/12 besok 08.00": "not_a_time",
    "besok 08.00 09.00": "not_a_time", "6 12": "not_a_time", "WIB": "not_a_time",
    "31/12/9999 08.00": "too_far", "6/12/2027 08.00": "too_far",
}


@pytest.mark.parametrize(("text", "moment"), MOMENTS.items())
def test_schedule_time_forms(text: str, moment: datetime) -> None:
    parsed = parse_schedule_time(text, NOW, JAKARTA)
    assert parsed.tzinfo is UTC
    assert parsed == moment


@pytest.mark.parametrize(("text", "code"), BAD_MOMENTS.items())
def test_schedule_times_refused_with_a_reason(text: str, code: str) -> None:
    assert reason(parse_schedule_time, text, NOW, JAKARTA) == code


def test_schedule_day_is_the_day_in_jakarta() -> None:
    late_evening_utc = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # already 4 December, 03.00 in Jakarta
    assert parse_schedule_time("besok 08.00", late_evening_utc, JAKARTA) == jakarta(2026, 12, 5, 8, 0)


def test_schedule_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_schedule_time("besok 08.00", datetime(2026, 12, 3, 10, 0))


SCHEDULE_WORDS = ["besok", "lusa", "hari", "ini", "Sabtu", "Senin", "minggu", "jam", "pukul", "pagi", "malam",
                  "sore", "WIB", "WITA", "Des", "Desember", "Jan", "6", "12", "31", "2026", "2025", "08.00",
                  "8:00", "23.59", "00.00", "6/12", "31/1", "29/2", "06-12-2026", "2026-12-03", "am", "pm", ","]


@QUICK
@given(st.lists(st.sampled_from(SCHEDULE_WORDS), max_size=6).map(" ".join), st.integers(0, 3 * 365 * 24 * 60))
def test_schedule_time_is_never_in_the_past(text: str, minutes: int) -> None:
    now = datetime(2025, 1, 1, tzinfo=JAKARTA) + timedelta(minutes=minutes)
    try:
        moment = parse_schedule_time(text, now, JAKARTA)
    except ParseError as error:
        assert error.reason in REASONS
    else:
        assert moment > now
        assert moment.tzinfo is UTC


@QUICK
@given(st.integers(1, 366 * 24 * 60), st.sampled_from(["id", "en"]))
def test_shown_moments_read_back(minutes_ahead: int, locale: str) -> None:
    moment = (NOW + timedelta(minutes=minutes_ahead)).astimezone(UTC)
    assert parse_schedule_time(datetime_short(moment, locale), NOW, JAKARTA) == moment
    local = moment.astimezone(JAKARTA)
    written = f"{date_long(local.date(), locale)} {time_of_day(local.time(), locale)}"
    assert parse_schedule_time(written, NOW, JAKARTA) == moment


# --- Weekday and time ----------------------------------------------------------------------

WEEKLY = {
    "Sabtu 08.00": (5, time(8, 0)), "setiap Sabtu jam 8 pagi": (5, time(8, 0)), "sabtu 8:00": (5, time(8, 0)),
    "tiap hari Sabtu pukul 08.00 WIB": (5, time(8, 0)), "Sabtu, 08.00-11.00": (5, time(8, 0)),
    "Sabtu 08.00 s/d 11.00 WIB": (5, time(8, 0)), "senin 7.30": (0, time(7, 30)), "Selasa 16.00": (1, time(16, 0)),
    "Rabu jam 3 sore": (2, time(15, 0)), "Kamis 09.15": (3, time(9, 15)), "Jumat 13.00": (4, time(13, 0)),
    "Jum'at 13.00": (4, time(13, 0)), "minggu pagi jam 7": (6, time(7, 0)), "Ahad 07.00": (6, time(7, 0)),
    "every Saturday at 8am": (5, time(8, 0)), "Sunday 7:30 pm": (6, time(19, 30)),
    "Senin 00.30 WITA": (6, time(23, 30)),
}
BAD_WEEKLY = {
    "jam 8": "missing_weekday", "08.00": "missing_weekday", "Sabtu": "missing_time", "setiap Sabtu": "missing_time",
    "besok 08.00": "not_a_time", "6/12 08.00": "not_a_time", "Sabtu Minggu 08.00": "not_a_time",
    "Sabtu 25.00": "not_a_time", "Sabtu 08.00-25.00": "not_a_time", "": "not_a_time", "kapan saja": "not_a_time",
}


@pytest.mark.parametrize(("text", "expected"), WEEKLY.items())
def test_weekday_time_forms(text: str, expected: tuple[int, time]) -> None:
    assert parse_weekday_time(text) == expected


@pytest.mark.parametrize(("text", "code"), BAD_WEEKLY.items())
def test_weekday_times_refused_with_a_reason(text: str, code: str) -> None:
    assert reason(parse_weekday_time, text) == code


@QUICK
@given(st.integers(0, 6), st.integers(0, 23), st.integers(0, 59), st.sampled_from(["id", "en"]),
       st.sampled_from(["wide", "abbreviated"]))
def test_weekday_names_and_shown_times_read_back(day: int, hour: int, minute: int, locale: str, width: str) -> None:
    name = get_day_names(width, locale=locale)[day]
    assert parse_weekday_time(f"{name} {time_of_day(time(hour, minute), locale)}") == (day, time(hour, minute))


# --- Arbitrary text ------------------------------------------------------------------------

NEAR_MISSES = st.text(alphabet="0123456789.,/-: ½kgronsjutaribmRpWwtdesabtuSj ", max_size=20)


@QUICK
@given(st.one_of(st.text(), NEAR_MISSES))
def test_parsers_raise_only_parse_errors(text: str) -> None:
    for parse in (parse_weight, parse_amount, parse_rw_number, parse_weekday_time,
                  lambda t: parse_schedule_time(t, NOW, JAKARTA)):
        try:
            parse(text)
        except ParseError as error:
            assert error.reason in REASONS


# --- Dates (no time of day) ----------------------------------------------------------------

TODAY = date(2026, 12, 3)  # a Thursday


@QUICK
@given(st.integers(0, 3 * 365), st.sampled_from(["id", "en"]))
def test_a_shown_date_reads_back(days_ahead: int, locale: str) -> None:
    day = TODAY + timedelta(days=days_ahead)
    assert parse_date(date_long(day, locale), TODAY) == day
    assert parse_date(f"{day.day}/{day.month}/{day.year}", TODAY) == day
    assert parse_date(day.isoformat(), TODAY) == day


@QUICK
@given(st.integers(-3 * 365, 3 * 365))
def test_a_date_without_a_year_is_its_nearest_occurrence(offset: int) -> None:
    day = TODAY + timedelta(days=offset)
    if (day.month, day.day) == (2, 29):
        return  # not every year has it
    read = parse_date(f"{day.day}/{day.month}", TODAY)
    assert (read.month, read.day) == (day.month, day.day)
    assert abs((read - TODAY).days) <= 183


@QUICK
@given(st.integers(0, 6), st.sampled_from(["id", "en"]), st.sampled_from(["wide", "abbreviated"]))
def test_a_weekday_is_its_next_occurrence_today_included(weekday: int, locale: str, width: str) -> None:
    read = parse_date(get_day_names(width, locale=locale)[weekday], TODAY)
    assert read.weekday() == weekday and 0 <= (read - TODAY).days < 7


@QUICK
@given(st.one_of(st.text(), NEAR_MISSES), st.integers(0, 3 * 365))
def test_dates_raise_only_parse_errors(text: str, days: int) -> None:
    try:
        parse_date(text, TODAY + timedelta(days=days))
    except ParseError as error:
        assert error.reason in REASONS


def test_a_typed_choice_forgives_typos_in_words_but_never_in_numbers() -> None:
    from handlers.dialog.matching import match_choice

    choices = [("rw:12", "Kebon Melati RW 012"), ("rw:14", "Kebon Melati RW 014"), ("en", "English")]
    assert match_choice("Englsh", choices) == "en"
    assert match_choice("kebon mlati rw 012", choices) == "rw:12"
    assert match_choice("Kebon Melati RW 016", choices) is None
    assert match_choice("kebon melati rw 14", choices) == "rw:14"  # the same number, written shorter
    assert match_choice("Jakarta Pusat", [("kota:31.71", "Jakarta Pusat (34 RW)"), ("menu", "Menu utama")]) == "kota:31.71"
    assert match_choice("ya", [("yes", "Ya, kirim ikrar"), ("no", "Tidak jadi")]) == "yes"
    assert match_choice("ya", [("a", "Ya, untuk RW saya"), ("b", "Ya, RW lain")]) is None  # two start so: unclear
