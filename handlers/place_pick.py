"""Finding a kelurahan as people name it: a button, or a typed name with typos forgiven; when several
match, they are offered to choose from. Every journey that asks for a place uses these."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dialog.machine import Context, Raw
from handlers.dialog.matching import search_names
from handlers.messages import Inbound, Kind
from storage import places
from storage.models import Kelurahan

CHOICE_PREFIX = "kel:"


def place_label(kelurahan: Kelurahan) -> str:
    """`Kebon Melati – Tanah Abang, Jakarta Pusat`."""
    kecamatan = kelurahan.kecamatan
    return f"{kelurahan.name} – {kecamatan.name}, {places.short_kota(kecamatan.kota.name)}"


def choices(found: Iterable[Kelurahan]) -> list[tuple[str, Raw]]:
    """Each kelurahan as a choice labelled with its kecamatan and kota (names repeat across Jakarta)."""
    return [(f"{CHOICE_PREFIX}{k.code}", Raw(place_label(k))) for k in found]


def chosen(message: Inbound) -> str | None:
    """The code of the kelurahan a button names, or None when the person typed."""
    return (message.choice or "").removeprefix(CHOICE_PREFIX) if message.kind is Kind.CHOICE else None


async def find(session: AsyncSession, text: str, kota_code: str | None = None) -> list[Kelurahan]:
    """Kelurahan (in one kota, or anywhere) whose name the text matches, typos forgiven."""
    return search_names(text, await places.all_kelurahan(session, kota_code), lambda k: k.name)


async def search(ctx: Context, text: str, kota_code: str | None = None) -> list[str]:
    """The codes of the kelurahan the text names; says so when none does."""
    found = await find(ctx.session, text, kota_code)
    if not found:
        ctx.say("register.kelurahan_not_found", text=text[:40])
    return [k.code for k in found]


async def offer(ctx: Context, key: str, codes: Iterable[str]) -> None:
    """Asks with the message `key` which of these kelurahan the person means."""
    found = [k for code in codes if (k := await places.kelurahan(ctx.session, code))]
    ctx.say(key, choices=choices(found))
