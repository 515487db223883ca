"""Deposit and pledge exports (CSV or XLSX) for coordinators: only their RWs, phone numbers and
names masked, gifts of savings only summed per RW, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import pledges, stats
from storage.clock import local
from storage.models import (
    RW,
    Account,
    Collaborator,
    Identity,
    Kecamatan,
    Kelurahan,
    Kota,
    Offer,
    Person,
    Pledge,
    WasteBank,
    WasteReport,
    WasteReportItem,
)
from storage.stats import Scope
from storage.types import utcnow

COLUMNS = (
    "tanggal", "bank_sampah", "kelurahan", "rw", "no_anggota", "nama", "telepon",
    "kategori", "berat_gram", "harga_per_kg", "nilai_rp", "sumber", "status",
)
PLEDGE_COLUMNS = (
    "referensi", "kelurahan", "rw", "paket", "jumlah_rp", "status", "dibuat", "diubah",
    "jenis_kolaborator", "organisasi", "kontak", "telepon",
)
PLEDGE_SUMMARY_COLUMNS = (
    "kelurahan", "rw", "paket", "menunggu_konfirmasi_rp", "dikonfirmasi_rp", "diterima_rp", "sedekah_rp", "jumlah_rp",
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


def mask_name(name: str | None) -> str:
    """`Siti Rahayu` → `S*** R***`: enough to tell rows apart, not to name the person."""
    return " ".join(word[0] + "***" for word in (name or "").split())


def _when(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M")


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
            _when(report.reported_at), bank or "", kelurahan, f"{rw:03d}",
            member or "", name or "", mask_phone(phone), item.category_code, item.grams, item.rupiah_per_kg,
            item.estimate, report.source, report.status,
        ))
    return rows


def to_csv(rows: Sequence[Sequence[object]], columns: Sequence[str] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
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


async def pledge_rows(session: AsyncSession, now: datetime | None = None) -> list[tuple[object, ...]]:
    """One row per collaborator's pledge, and per RW, package and status one row summing the residents'
    gifts of savings ("Warga RW 012 (sedekah sampah)", never a person); by RW, package, then date. A
    hold past its expiry shows as lapsed, whatever the scheduler has done yet."""
    now = now or utcnow()
    statement = (
        select(Pledge, Offer.package_code, RW.number, Kelurahan.name, Collaborator)
        .join(Offer, Offer.id == Pledge.offer_id)
        .join(RW, RW.id == Offer.rw_id)
        .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
        .outerjoin(Collaborator, (Collaborator.person_id == Pledge.person_id) & (Pledge.source == pledges.PLEDGE))
        .order_by(Kelurahan.name, RW.number, Offer.package_code, Pledge.created_at, Pledge.id)
    )
    giver_rws = dict((await session.execute(select(RW.id, RW.number))).all())
    rows: list[tuple[object, ...]] = []
    gifts: dict[tuple[str, int, str, int | None, str], list[Pledge]] = {}
    for found, package, rw, kelurahan, collaborator in (await session.execute(statement)).all():
        status = _status(found, now)
        if found.source == pledges.SEDEKAH:
            gifts.setdefault((kelurahan, rw, package, found.giver_rw_id, status), []).append(found)
            continue
        kind, organisation, contact, phone = (
            (collaborator.type, collaborator.organisation or "", collaborator.contact_name, collaborator.phone)
            if collaborator else ("", "", None, None)  # the person was erased
        )
        rows.append((
            pledges.reference(found), kelurahan, f"{rw:03d}", package, found.amount, status, _when(found.created_at),
            _when(found.updated_at), kind, organisation, mask_name(contact), mask_phone(phone),
        ))
    for (kelurahan, rw, package, giver_rw, status), given in gifts.items():
        giver = f"{giver_rws[giver_rw]:03d}" if giver_rw in giver_rws else "?"
        rows.append((
            "", kelurahan, f"{rw:03d}", package, sum(gift.amount for gift in given), status,
            _when(min(gift.created_at for gift in given)), _when(max(gift.updated_at for gift in given)),
            pledges.SEDEKAH, f"Warga RW {giver} (sedekah sampah)", "", "",
        ))
    return sorted(rows, key=lambda row: (row[1], row[2], row[3], row[6]))


async def pledge_summary_rows(session: AsyncSession, now: datetime | None = None) -> list[tuple[object, ...]]:
    """One row per RW and package that holds anything: holds still running, confirmed, funds
    received (received, works in progress or completed), residents' gifts of savings and their sum,
    as the coordinators' statistics count them (a lapsed hold never counts); no names, no phones."""
    return [
        (offer.kelurahan, f"{offer.rw:03d}", offer.package_code, offer.pledged, offer.confirmed, offer.received,
         offer.sedekah, offer.total)
        for offer in await stats.pledge_figures(session, None, now or utcnow())
    ]


def _status(found: Pledge, now: datetime) -> str:
    """The pledge's status as every availability query sees it: an expired hold has lapsed."""
    if found.status == pledges.PLEDGED and found.expires_at is not None and found.expires_at <= now:
        return pledges.LAPSED
    return found.status


class ScopeError(ValueError):
    """A scope that names no place; the message is one sentence for the operator."""


async def resolve_scope(session: AsyncSession, spec: str) -> Scope:
    """`all`, `kota:Jakarta Pusat`, `kelurahan:Kebon Melati` or `rw:Kebon Melati:12` → RW ids (None = all)."""
    kind, _, place = spec.partition(":")
    if spec == "all":
        return None
    if kind == "rw":
        name, _, number = place.rpartition(":")
        if not name.strip() or not number.strip().isdigit() or len(number.strip()) > 3:
            raise ScopeError(f"Scope {spec!r} is not rw:KELURAHAN:NUMBER, e.g. rw:Kebon Melati:12.")
        statement = select(RW.id).join(Kelurahan).where(Kelurahan.name.ilike(name.strip()), RW.number == int(number))
    elif kind == "kelurahan":
        statement = select(RW.id).join(Kelurahan).where(Kelurahan.name.ilike(place.strip()))
    elif kind == "kota":
        statement = (
            select(RW.id).join(Kelurahan).join(Kecamatan).join(Kota).where(Kota.name.ilike(f"%{place.strip()}"))
        )
    else:
        raise ScopeError(f"Scope {spec!r} is not all, kota:NAME, kelurahan:NAME or rw:KELURAHAN:NUMBER.")
    if not place.strip():
        example = "Jakarta Pusat" if kind == "kota" else "Kebon Melati"
        raise ScopeError(f"Scope {spec!r} names no place, e.g. {kind}:{example}.")
    rw_ids = set((await session.execute(statement)).scalars())
    if not rw_ids:
        raise ScopeError(f"Scope {spec!r} has no RW with residents or deposits.")
    return rw_ids
