"""The catalogs: loaded for real, complete in both languages, and matching the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.text.i18n import LOCALE_DIR, LOCALES, CatalogMissing, translate, translations
from storage.catalog_import import work_item_codes
from storage.reference import rows

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"N_": None, "t": None, "say": None, "translate": (2,)}
# Names of languages, and line templates made only of placeholders, read the same in both.
SAME_IN_BOTH = {
    "language.name.id", "language.name.en",
    "report.line", "report.item", "savings.report_line", "info.price_line",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog(locale: str):  # type: ignore[no-untyped-def]
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


METHODS = [
    ("**.py", "python"),
    ("**/seed/waste_categories.csv", "storage.reference:extract_category_names"),
    ("**/seed/upgrade_packages.csv", "storage.catalog_import:extract_work_items"),
]


def keys_in_code() -> set[str]:
    """Every message key `make locales-extract` finds: in the code, and named by the seed data."""
    found: set[str] = set()
    for package in ("bot", "handlers", "storage"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=METHODS, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_compiled_catalogs_are_loaded_in_both_languages() -> None:
    assert translate("id", "cancel.done") == "Baik, dibatalkan."
    assert translate("en", "cancel.done") == "Okay, cancelled."


def test_a_missing_catalog_fails_loudly_instead_of_showing_keys() -> None:
    with pytest.raises(CatalogMissing):
        translations("fr")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_in_the_code_is_translated_and_none_is_fuzzy_or_empty(locale: str) -> None:
    messages = {m.id: m for m in catalog(locale) if m.id}
    missing = keys_in_code() - set(messages)
    assert not missing, f"{locale} lacks {sorted(missing)}"
    assert not [m.id for m in messages.values() if not m.string or m.fuzzy]


def test_no_catalog_entry_is_unused() -> None:
    unused = {m.id for m in catalog("id") if m.id} - keys_in_code()
    assert not unused, f"unused catalog entries: {sorted(unused)}"


def test_english_differs_from_indonesian_and_placeholders_agree() -> None:
    indonesian = {m.id: m.string for m in catalog("id") if m.id}
    english = {m.id: m.string for m in catalog("en") if m.id}
    assert set(indonesian) == set(english)
    same = {key for key in indonesian if indonesian[key] == english[key]} - SAME_IN_BOTH
    assert not same, f"untranslated English: {sorted(same)}"
    for key in indonesian:
        assert set(PLACEHOLDER.findall(indonesian[key])) == set(PLACEHOLDER.findall(english[key])), key


@pytest.mark.parametrize("locale", LOCALES)
def test_every_waste_category_and_group_has_a_name(locale: str) -> None:
    messages = {m.id for m in catalog(locale) if m.id and m.string}
    for row in rows("waste_categories.csv"):
        assert f"category.{row['code']}" in messages
        assert f"category_group.{row['group']}" in messages


@pytest.mark.parametrize("locale", LOCALES)
def test_every_work_item_of_the_package_types_has_a_name(locale: str) -> None:
    messages = {m.id for m in catalog(locale) if m.id and m.string}
    assert {f"work.{code}" for code in work_item_codes()} <= messages
