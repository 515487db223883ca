"""The upgrading catalog as data: package types (`seed/upgrade_packages.csv`) and target RWs with
their offers (a CSV such as `seed/ksbb_catalog_sample.csv`). A catalog file is checked row by row
into a plan (added, changed, unchanged, rejected with the line and reason); only a plan without
rejections is applied, in one transaction, and applying the same file again changes nothing.
Synchronous, on the tables as this module knows them, so the migration that ships the sample uses it."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.reference import RW, SEED, rows
from storage.types import utcnow

PACKAGES_FILE = "upgrade_packages.csv"
SAMPLE_FILE = "ksbb_catalog_sample.csv"
REQUIRED = ("kota", "kecamatan", "kelurahan", "rw", "utama", "lengkap", "bersama")
OPTIONAL = ("kk", "jiwa", "kebutuhan", "status", "kontak", "pembayaran", "tahun")
WORKS = {"rencana": "planned", "planned": "planned", "open": "planned", "dibuka": "planned",
         "pengerjaan": "in_progress", "berjalan": "in_progress", "in_progress": "in_progress",
         "selesai": "done", "done": "done"}
MAX_AMOUNT = 100_000_000_000  # Rp100 miliar: anything above is a typo
MAX_TEXT = {"kontak": 120, "pembayaran": 1000}

PACKAGE = sa.table(
    "upgrade_package", sa.column("code"), sa.column("position"), sa.column("name"), sa.column("description_id"),
    sa.column("description_en"), sa.column("cost_min"), sa.column("cost_max"), sa.column("work_items", sa.JSON),
    sa.column("shared"), sa.column("alternative"),
)
UPGRADE_RW = sa.table(
    "upgrade_rw", sa.column("rw_id"), sa.column("families"), sa.column("population"), sa.column("needs", sa.JSON),
    sa.column("contact"), sa.column("payment"), sa.column("year"), sa.column("works"), sa.column("is_sample"),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
OFFER = sa.table(
    "upgrade_offer", sa.column("id"), sa.column("rw_id"), sa.column("package_code"), sa.column("target"),
    sa.column("assumed"),
)
KOTA = sa.table("kota", sa.column("code"), sa.column("name"))
KECAMATAN = sa.table("kecamatan", sa.column("code"), sa.column("kota_code"), sa.column("name"))
KELURAHAN = sa.table("kelurahan", sa.column("code"), sa.column("kecamatan_code"), sa.column("name"))


@dataclass(frozen=True)
class Listing:
    """One valid catalog row: the RW (by kelurahan code and number), its fields and its offers."""

    line: int
    kelurahan_code: str
    number: int
    fields: dict[str, Any]
    offers: dict[str, int]  # package code → target

    @property
    def label(self) -> str:
        return f"{self.kelurahan_code} RW {self.number:03d}"


@dataclass
class Plan:
    added: list[Listing] = field(default_factory=list)
    changed: list[Listing] = field(default_factory=list)
    unchanged: list[Listing] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def report(self) -> str:
        """What the import does (or would do), one line per added, changed or rejected row."""
        lines = [f"added {len(self.added)}, changed {len(self.changed)}, unchanged {len(self.unchanged)}, "
                 f"rejected {len(self.rejected)}"]
        lines += [f"  line {item.line}: add {item.label}" for item in self.added]
        lines += [f"  line {item.line}: change {item.label}" for item in self.changed]
        lines += [f"  line {line}: rejected: {reason}" for line, reason in self.rejected]
        return "\n".join(lines)


class CatalogError(Exception):
    """The file cannot be read as a catalog at all (encoding, header)."""


def load_packages(connection: sa.Connection) -> None:
    """Insert or update the package types from the seed file."""
    existing = set(connection.execute(sa.select(PACKAGE.c.code)).scalars())
    for row in rows(PACKAGES_FILE):
        values = {
            "position": int(row["position"]), "name": row["name"], "description_id": row["description_id"],
            "description_en": row["description_en"], "cost_min": int(row["cost_min"]), "cost_max": int(row["cost_max"]),
            "work_items": {"items": row["work_items"].split(";")}, "shared": row["shared"] == "1",
            "alternative": row["alternative"] == "1",
        }
        if row["code"] in existing:
            connection.execute(sa.update(PACKAGE).where(PACKAGE.c.code == row["code"]).values(**values))
        else:
            connection.execute(sa.insert(PACKAGE).values(code=row["code"], **values))


def work_item_codes() -> list[str]:
    """Every work item any package names, in the seed file's order."""
    codes: list[str] = []
    for row in rows(PACKAGES_FILE):
        codes += [code for code in row["work_items"].split(";") if code not in codes]
    return codes


def decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CatalogError(f"the file is not UTF-8 (byte {error.start}); save it as CSV UTF-8") from error


def plan(connection: sa.Connection, content: bytes) -> Plan:
    """Check every row of a catalog file against the places and the current catalog."""
    reader = csv.DictReader(io.StringIO(decode(content), newline=""))
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise CatalogError(f"missing columns: {', '.join(missing)}")
    places = _places(connection)
    packages = set(connection.execute(sa.select(PACKAGE.c.code)).scalars())
    items = set(work_item_codes())
    result = Plan()
    seen: dict[tuple[str, int], int] = {}
    for row in reader:
        line = reader.line_num
        try:
            listing = _listing(line, row, places, packages, items)
        except ValueError as error:
            result.rejected.append((line, str(error)))
            continue
        key = (listing.kelurahan_code, listing.number)
        if key in seen:
            result.rejected.append((line, f"{listing.label} repeats line {seen[key]}"))
            continue
        seen[key] = line
        current = _current(connection, *key)
        if current is None:
            result.added.append(listing)
        elif current[0] != listing.fields or any(current[1].get(k) != v for k, v in listing.offers.items()):
            result.changed.append(listing)
        else:
            result.unchanged.append(listing)
    return result


def apply(connection: sa.Connection, planned: Plan, sample: bool = False) -> None:
    """Write an accepted plan: new RWs and listings, changed fields and targets (offers are never
    removed here, as pledges may point at them)."""
    if not planned.ok:
        raise CatalogError("a catalog with rejected rows is not applied")
    for listing in planned.added + planned.changed:
        rw_id = _rw_id(connection, listing.kelurahan_code, listing.number, create=True)
        values = {**listing.fields, "updated_at": utcnow()}
        if connection.execute(sa.select(UPGRADE_RW.c.rw_id).where(UPGRADE_RW.c.rw_id == rw_id)).first():
            connection.execute(sa.update(UPGRADE_RW).where(UPGRADE_RW.c.rw_id == rw_id).values(**values))
        else:
            connection.execute(sa.insert(UPGRADE_RW).values(rw_id=rw_id, is_sample=sample, **values))
        offers = dict(connection.execute(
            sa.select(OFFER.c.package_code, OFFER.c.id).where(OFFER.c.rw_id == rw_id)).all())
        for code, target in listing.offers.items():
            if code in offers:
                connection.execute(sa.update(OFFER).where(OFFER.c.id == offers[code]).values(target=target))
            else:
                connection.execute(sa.insert(OFFER).values(rw_id=rw_id, package_code=code, target=target,
                                                           assumed=sample))


def load_sample_catalog(connection: sa.Connection) -> None:
    """The package types and the sample catalog (its targets marked as assumptions)."""
    load_packages(connection)
    apply(connection, plan(connection, (SEED / SAMPLE_FILE).read_bytes()), sample=True)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CatalogError(f"cannot read {path}: {error.strerror}") from error


def _places(connection: sa.Connection) -> dict[tuple[str, str, str], str]:
    """(kota, kecamatan, kelurahan) names, folded → kelurahan code."""
    statement = (
        sa.select(KOTA.c.name, KECAMATAN.c.name, KELURAHAN.c.name, KELURAHAN.c.code)
        .join(KECAMATAN, KECAMATAN.c.kota_code == KOTA.c.code)
        .join(KELURAHAN, KELURAHAN.c.kecamatan_code == KECAMATAN.c.code)
    )
    return {(_fold_kota(a), _fold(b), _fold(c)): code for a, b, c, code in connection.execute(statement).all()}


def _fold(name: str) -> str:
    return " ".join(name.lower().split())


def _fold_kota(name: str) -> str:
    """`Kota Administrasi Jakarta Pusat`, `Jakarta Pusat` and `jakarta pusat` are one kota."""
    return re.sub(r"^(kota|kabupaten) administrasi ", "", _fold(name))


def _listing(line: int, row: dict[str, str | None], places: dict[tuple[str, str, str], str], packages: set[str],
             items: set[str]) -> Listing:
    if None in row or any(row.get(name) is None for name in REQUIRED):
        raise ValueError("wrong number of fields")
    value = {name: (row.get(name) or "").strip() for name in REQUIRED + OPTIONAL}
    code = places.get((_fold_kota(value["kota"]), _fold(value["kecamatan"]), _fold(value["kelurahan"])))
    if code is None:
        raise ValueError(f"unknown kelurahan {value['kelurahan']!r} in {value['kecamatan']!r}, {value['kota']!r}")
    number = _whole(value["rw"], "rw", 1, 999)
    offers = {name: _whole(value[name], name, 1, MAX_AMOUNT) for name in ("utama", "lengkap", "bersama")
              if value[name] and name in packages}
    if not offers:
        raise ValueError("no package amount (utama, lengkap or bersama)")
    needs = [item for item in value["kebutuhan"].replace(",", ";").split(";") if item.strip()]
    unknown = [item for item in needs if item.strip() not in items]
    if unknown:
        raise ValueError(f"unknown need {unknown[0].strip()!r} (known: {', '.join(sorted(items))})")
    works = WORKS.get(value["status"].lower() or "rencana")
    if works is None:
        raise ValueError(f"unknown status {value['status']!r} (rencana, pengerjaan or selesai)")
    for name, limit in MAX_TEXT.items():
        if len(value[name]) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
    fields = {
        "families": _whole(value["kk"], "kk", 1, 100_000) if value["kk"] else None,
        "population": _whole(value["jiwa"], "jiwa", 1, 500_000) if value["jiwa"] else None,
        "needs": {"items": [item.strip() for item in needs]},
        "contact": value["kontak"] or None,
        "payment": value["pembayaran"] or None,
        "year": _whole(value["tahun"], "tahun", 2000, 2100) if value["tahun"] else None,
        "works": works,
    }
    return Listing(line, code, number, fields, offers)


def _whole(text: str, name: str, low: int, high: int) -> int:
    cleaned = text.replace(".", "").replace(" ", "")
    if not cleaned.isdigit():
        raise ValueError(f"{name} is not a whole number: {text!r}")
    number = int(cleaned)
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is outside {low}–{high}")
    return number


def _rw_id(connection: sa.Connection, kelurahan_code: str, number: int, create: bool = False) -> int | None:
    where = (RW.c.kelurahan_code == kelurahan_code, RW.c.number == number)
    rw_id = connection.execute(sa.select(RW.c.id).where(*where)).scalar()
    if rw_id is None and create:
        rw_id = connection.execute(
            sa.insert(RW).values(kelurahan_code=kelurahan_code, number=number).returning(RW.c.id)).scalar_one()
    return rw_id


def _current(connection: sa.Connection, kelurahan_code: str, number: int) -> tuple[dict[str, Any], dict[str, int]] | None:
    """The listing as stored, in the shape `_listing` builds, or None when the RW is not listed."""
    rw_id = _rw_id(connection, kelurahan_code, number)
    if rw_id is None:
        return None
    stored = connection.execute(sa.select(UPGRADE_RW).where(UPGRADE_RW.c.rw_id == rw_id)).mappings().first()
    if stored is None:
        return None
    fields = {name: stored[name] for name in ("families", "population", "needs", "contact", "payment", "year", "works")}
    offers = dict(connection.execute(
        sa.select(OFFER.c.package_code, OFFER.c.target).where(OFFER.c.rw_id == rw_id)).all())
    return fields, offers
