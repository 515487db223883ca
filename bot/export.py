"""Deposit exports (CSV or XLSX) for coordinators: only their RWs, phone numbers masked, and no cell
a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.clock import local
from storage.models import (
    RW,
    Account,
    Identity,
    Kecamatan,
    Kelurahan,
    Kota,
    Person,
    WasteBank,
    WasteReport,
    WasteReportItem,
)
from storage.stats import Scope

COLUMNS = (
    "tanggal", "bank_sampah", "kelurahan", "rw", "no_anggota", "nama", "telepon",
    "kategori", "berat_gram", "harga_per_kg", "nilai_rp", "sumber", "status",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def mask_phone(phone: str | None) -> str:
    """`+6281234567890` → `62812*****890` (no leading +, which a spreadsheet would read as a formula)."""
    digits = (phone or "").lstrip("+")
    return digits[:5] + "*" * max(len(digits) - 8, 0) + digits[-3:] if digits else ""


async def deposit_rows(session: AsyncSession, rw_ids: Scope) -> list[tuple[object, ...]]:
    """One row per report item in the scope, oldest first."""
    whatsapp = aliased(Identity)
    statement = (
        select(WasteReport, WasteReportItem, RW.number, Kelurahan.name, WasteBank.name, Account.member_number,
               Person.name, whatsapp.address)
        .join(WasteReportItem, WasteReportItem.report_id == WasteReport.id)
        .join(RW, RW.id == WasteReport.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .outerjoin(WasteBank, WasteBank.id == WasteReport.bank_id)
        .outerjoin(Account, (Account.bank_id == WasteReport.bank_id) & (Account.person_id == WasteReport.person_id))
        .outerjoin(Person, Person.id == WasteReport.person_id)
        .outerjoin(whatsapp, (whatsapp.person_id == Person.id) & (whatsapp.channel == "whatsapp"))
        .order_by(WasteReport.reported_at, WasteReport.id, WasteReportItem.id)
    )
    if rw_ids is not None:
        statement = statement.where(WasteReport.rw_id.in_(list(rw_ids)))
    rows = []
    for report, item, rw, kelurahan, bank, member, name, phone in (await session.execute(statement)).all():
        rows.append((
            local(report.reported_at).strftime("%Y-%m-%d %H:%M"), bank or "", kelurahan, f"{rw:03d}",
            member or "", name or "", mask_phone(phone), item.category_code, item.grams, item.rupiah_per_kg,
            item.estimate, report.source, report.status,
        ))
    return rows


def to_csv(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")  # a BOM, so spreadsheet programs read UTF-8


def to_xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "setoran"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([neutralise(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class ScopeError(ValueError):
    """A scope that names no place; the message is one sentence for the operator."""


async def resolve_scope(session: AsyncSession, spec: str) -> Scope:
    """`all`, `kota:Jakarta Pusat`, `kelurahan:Kebon Melati` or `rw:Kebon Melati:12` → RW ids (None = all)."""
    kind, _, place = spec.partition(":")
    if kind == "all":
        return None
    if kind == "rw":
        name, _, number = place.rpartition(":")
        statement = select(RW.id).join(Kelurahan).where(Kelurahan.name.ilike(name.strip()), RW.number == int(number or 0))
    elif kind == "kelurahan":
        statement = select(RW.id).join(Kelurahan).where(Kelurahan.name.ilike(place.strip()))
    elif kind == "kota":
        statement = (
            select(RW.id).join(Kelurahan).join(Kecamatan).join(Kota).where(Kota.name.ilike(f"%{place.strip()}"))
        )
    else:
        raise ScopeError(f"Scope {spec!r} is not all, kota:NAME, kelurahan:NAME or rw:KELURAHAN:NUMBER.")
    rw_ids = set((await session.execute(statement)).scalars())
    if not rw_ids:
        raise ScopeError(f"Scope {spec!r} has no RW with residents or deposits.")
    return rw_ids
