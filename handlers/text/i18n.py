"""Translations from the gettext catalogs under `locales/`; message ids are stable keys."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locales"
LOCALES = ("id", "en")
DOMAIN = "messages"


class CatalogMissing(RuntimeError):
    """A compiled catalog is missing; `make locales` builds them."""


@lru_cache(maxsize=None)
def translations(locale: str) -> Translations:
    """The compiled catalog for a locale; fails loudly instead of falling back to message ids."""
    if locale not in LOCALES:
        raise CatalogMissing(f"No catalog for locale {locale!r}.")
    loaded = Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)
    if not isinstance(loaded, Translations):
        raise CatalogMissing(f"Compiled catalog for {locale!r} not found in {LOCALE_DIR}; run `make locales`.")
    return loaded


def translate(locale: str, key: str, **values: object) -> str:
    """The text for a message key in a locale, with `{name}` placeholders filled."""
    text = translations(locale).gettext(key)
    return text.format(**values) if values else text


def N_(key: str) -> str:
    """Marks a message key for extraction where it is translated later."""
    return key
