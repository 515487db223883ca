"""The upgrading catalog as data: package types (`seed/upgrade_packages.csv`) and target RWs with
their offers (a CSV such as `seed/ksbb_catalog_sample.csv`). A catalog file is checked row by row
into a plan (added, changed, unchanged, rejected with the line and reason); only a plan without
rejections is applied, in one transaction, and applying the same file again changes nothing.
A column the file leaves out (or an empty `status`) keeps what is stored; an import never removes
an RW or an offer, and never moves a target below what pledges already hold.
Synchronous, on the tables as this module knows them, so the migration that ships the sample uses it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.pledges import LIVE, PLEDGED
from storage.reference import RW, SEED, rows
from storage.types import utcnow

PACKAGES_FILE = "upgrade_packages.csv"
SAMPLE_FILE = "ksbb_catalog_sample.csv"
PACKAGE_COLUMNS = ("utama", "lengkap", "bersama")
REQUIRED = ("kota", "kecamatan", "kelurahan", "rw", *PACKAGE_COLUMNS)
OPTIONAL = ("kk", "jiwa", "kebutuhan", "status", "kontak", "pembayaran", "tahun")
WORKS = {"rencana": "planned", "planned": "planned", "open": "planned", "dibuka": "planned",
         "pengerjaan": "in_progress", "berjalan": "in_progress", "in_progress": "in_progress",
         "selesai": "done", "done": "done"}
WORKS_WORD = {"planned": "rencana", "in_progress": "pengerjaan", "done": "selesai"}
MAX_AMOUNT = 100_000_000_000  # Rp100 miliar: anything above is a typo
MAX_TEXT = {"kontak": 120, "pembayaran": 1000}
MAX_FILE_BYTES = 5_000_000
# The stored field each optional column sets, and a new RW's value when the file leaves it out.
COLUMN_FIELD = {"kk": "families", "jiwa": "population", "kebutuhan": "needs", "status": "works", "kontak": "contact",
                "pembayaran": "payment", "tahun": "year"}
NEW_RW = {"families": None, "population": None, "needs": {"items": []}, "contact": None, "payment": None,
          "year": None, "works": "planned"}
PRIVATE_FIELDS = {"contact", "payment"}  # the report says they change, never what they say
WHOLE = re.compile(r"[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+")
MONEY = re.compile(r"(?:rp\.?\s*)?([0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+)(?:,-|,00)?", re.IGNORECASE)

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
PLEDGE = sa.table(
    "pledge", sa.column("offer_id"), sa.column("amount"), sa.column("status"),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
KOTA = sa.table("kota", sa.column("code"), sa.column("name"))
KECAMATAN = sa.table("kecamatan", sa.column("code"), sa.column("kota_code"), sa.column("name"))
KELURAHAN = sa.table("kelurahan", sa.column("code"), sa.column("kecamatan_code"), sa.column("name"))


@dataclass(frozen=True)
class Listing:
    """One valid catalog row: the RW (by kelurahan code and number), the fields its file gives, its offers."""

    line: int
    kelurahan_code: str
    place: str  # the kelurahan's name, for the report
    number: int
    fields: dict[str, Any]  # only what the file gives (plus `is_sample`)
    offers: dict[str, int]  # package code → target

    @property
    def label(self) -> str:
        return f"{self.place} RW {self.number:03d}"


@dataclass
class Plan:
    added: list[Listing] = field(default_factory=list)
    changed: list[Listing] = field(default_factory=list)
    unchanged: list[Listing] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    differences: dict[int, list[str]] = field(default_factory=dict)  # line of a changed row → what changes
    ignored_columns: list[str] = field(default_factory=list)
    sample: bool = False  # RWs marked as sample data, targets as assumptions

    @property
    def ok(self) -> bool:
        return not self.rejected

    def report(self) -> str:
        """What the import does (or would do), one line per added, changed or rejected row."""
        lines = [f"added {len(self.added)}, changed {len(self.changed)}, unchanged {len(self.unchanged)}, "
                 f"rejected {len(self.rejected)}"]
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        lines += [f"  line {item.line}: add {item.label} ({_offers_text(item.offers)})" for item in self.added]
        lines += [f"  line {item.line}: change {item.label}: {'; '.join(self.differences.get(item.line, []))}"
                  for item in self.changed]
        lines += [f"  line {line}: rejected: {reason}" for line, reason in sorted(self.rejected)]
        return "\n".join(lines)


class CatalogError(Exception):
    """The file cannot be read as a catalog at all (encoding, header), or a plan cannot be applied."""


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


def extract_work_items(fileobj, keywords, comment_tags, options):  # type: ignore[no-untyped-def]
    """Babel extractor: the catalog key `work.<code>` of every work item the package types name, so
    `make locales-update` keeps them (the seed file stays the one list of work items)."""
    reader = csv.DictReader(line.decode("utf-8") for line in fileobj)
    seen: set[str] = set()
    for row in reader:
        for code in row["work_items"].split(";"):
            if code not in seen:
                seen.add(code)
                yield reader.line_num, "N_", f"work.{code}", []


def read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CatalogError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB, so not a catalog")
        return path.read_bytes()
    except OSError as error:
        raise CatalogError(f"cannot be read ({error.strerror})") from error


def decode(content: bytes) -> str:
    """The file's text; a workbook, UTF-16 or a file in another encoding is refused naming the problem."""
    if content.startswith(b"PK\x03\x04"):
        raise CatalogError("the file is an Excel workbook or another archive, not CSV; save it as \"CSV UTF-8\"")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CatalogError("the file is UTF-16 (\"Unicode text\"); save it as \"CSV UTF-8\"")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[:error.start].count(b"\n") + 1
        raise CatalogError(f"line {line}: the file is not UTF-8 (byte {content[error.start]:#04x} at offset "
                           f"{error.start}); save it as \"CSV UTF-8\"") from error
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise CatalogError(f"line {line}: the file holds NUL bytes, so it is not a text file; save it as \"CSV UTF-8\"")
    return text


def plan(connection: sa.Connection, content: bytes, *, sample: bool = False, now: datetime | None = None) -> Plan:
    """Check every row of a catalog file against the places and the current catalog. With `sample`,
    the RWs are marked as sample data and their targets as assumptions."""
    records = _records(decode(content))
    header = _header(records)
    result = Plan(sample=sample, ignored_columns=[name for name in header if name and name not in REQUIRED + OPTIONAL])
    places = _places(connection)
    packages = dict(connection.execute(sa.select(PACKAGE.c.code, PACKAGE.c.shared)).all())
    items = set(work_item_codes())
    now = now or utcnow()
    seen: dict[tuple[str, int], int] = {}
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue  # a blank line, or a spreadsheet's empty row
        try:
            listing = _listing(line, _row(header, record), places, packages, items, sample)
            key = (listing.kelurahan_code, listing.number)
            if key in seen:
                raise ValueError(f"{listing.label} is already on line {seen[key]}")
            seen[key] = line
            differences = _differences(connection, listing, packages, now)
        except ValueError as error:
            result.rejected.append((line, str(error)))
            continue
        if differences is None:
            result.added.append(listing)
        elif differences:
            result.changed.append(listing)
            result.differences[line] = differences
        else:
            result.unchanged.append(listing)
    return result


def apply(connection: sa.Connection, planned: Plan, now: datetime | None = None) -> None:
    """Write an accepted plan: new RWs and listings, changed fields and targets. Each RW's listing row
    is written (so locked) before its targets are checked again against what pledges hold now."""
    if not planned.ok:
        raise CatalogError("a catalog with rejected rows is not applied")
    now = now or utcnow()
    packages = dict(connection.execute(sa.select(PACKAGE.c.code, PACKAGE.c.shared)).all())
    for listing in planned.added + planned.changed:
        rw_id = _rw_id(connection, listing.kelurahan_code, listing.number, create=True)
        stored = _stored(connection, rw_id) if rw_id is not None else None
        if stored is None:
            connection.execute(sa.insert(UPGRADE_RW).values(rw_id=rw_id, **{**NEW_RW, **listing.fields},
                                                            updated_at=now))
        else:
            connection.execute(sa.update(UPGRADE_RW).where(UPGRADE_RW.c.rw_id == rw_id)
                               .values(**listing.fields, updated_at=now))
        offers = {code: offer_id for code, offer_id, *_ in _offers(connection, rw_id)}
        held = _held(connection, rw_id, now)
        for code, target in listing.offers.items():
            refusal = _target_refusal(code, packages[code], held.get(code, 0), stored and stored[1].get(code), target)
            if refusal:
                raise CatalogError(f"line {listing.line}: {listing.label}: {refusal}")
            if code in offers:
                connection.execute(sa.update(OFFER).where(OFFER.c.id == offers[code])
                                   .values(target=target, assumed=planned.sample))
            else:
                connection.execute(sa.insert(OFFER).values(rw_id=rw_id, package_code=code, target=target,
                                                           assumed=planned.sample))


def load_sample_catalog(connection: sa.Connection) -> None:
    """The package types and the sample catalog (RWs marked as sample data, targets as assumptions)."""
    load_packages(connection)
    apply(connection, plan(connection, (SEED / SAMPLE_FILE).read_bytes(), sample=True))


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records, each with the physical line it starts on (a quoted field may span lines)."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # spreadsheets in Indonesian use ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CatalogError(f"line {start}: the row cannot be read as CSV ({error}); is a quote never closed?") \
                from error
        yield start, record
        start = reader.line_num + 1


def _header(records: Iterator[tuple[int, list[str]]]) -> list[str]:
    """The column names (trimmed, lower case); refused when empty, repeated or missing a required one."""
    header = next((record for _line, record in records if any(cell.strip() for cell in record)), [])
    names = [name.strip().lower() for name in header]
    if not any(names):
        raise CatalogError("the file is empty: the first line must name the columns")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise CatalogError(f"columns named twice: {', '.join(repeated)}")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise CatalogError(f"missing columns: {', '.join(missing)} (the first line must name at least "
                           f"{', '.join(REQUIRED)}, separated by commas)")
    return names


def _row(header: list[str], record: list[str]) -> dict[str, str]:
    """A record as column → trimmed text; a record with a different number of fields is refused."""
    extra = record[len(header):]
    if len(record) < len(header) or any(cell.strip() for cell in extra):
        hint = " (a value with a comma must be in double quotes)" if len(record) > len(header) else ""
        raise ValueError(f"{len(record)} fields where the header has {len(header)}{hint}")
    return {name: cell.strip() for name, cell in zip(header, record, strict=False) if name}


def _places(connection: sa.Connection) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(kota, kecamatan, kelurahan) names, folded → (kelurahan code, kelurahan name)."""
    statement = (
        sa.select(KOTA.c.name, KECAMATAN.c.name, KELURAHAN.c.name, KELURAHAN.c.code)
        .join(KECAMATAN, KECAMATAN.c.kota_code == KOTA.c.code)
        .join(KELURAHAN, KELURAHAN.c.kecamatan_code == KECAMATAN.c.code)
    )
    return {(_fold_kota(a), _fold(b), _fold(c)): (code, c) for a, b, c, code in connection.execute(statement).all()}


def _fold(name: str) -> str:
    return " ".join(name.lower().split())


def _fold_kota(name: str) -> str:
    """`Kota Administrasi Jakarta Pusat`, `Jakarta Pusat` and `jakarta pusat` are one kota."""
    return re.sub(r"^(kota|kabupaten)( administrasi)? ", "", _fold(name))


def _unknown_place(value: dict[str, str], places: dict[tuple[str, str, str], tuple[str, str]]) -> str:
    """Why the kota/kecamatan/kelurahan is not found, with where a kelurahan of that name is."""
    name = _fold(value["kelurahan"])
    elsewhere = sorted(f"{kecamatan.title()}, {kota.title()}" for kota, kecamatan, kelurahan in places
                       if kelurahan == name)
    where = f" (it is in {' and '.join(elsewhere)})" if elsewhere else ""
    return f"unknown kelurahan {value['kelurahan']!r} in kecamatan {value['kecamatan']!r}, {value['kota']!r}{where}"


def _listing(line: int, value: dict[str, str], places: dict[tuple[str, str, str], tuple[str, str]],
             packages: dict[str, bool], items: set[str], sample: bool) -> Listing:
    """A checked row; every problem of the row is named in one ValueError."""
    problems = [f"{name} is empty" for name in ("kota", "kecamatan", "kelurahan", "rw") if not value[name]]
    place = places.get((_fold_kota(value["kota"]), _fold(value["kecamatan"]), _fold(value["kelurahan"])))
    if place is None and not problems:
        problems.append(_unknown_place(value, places))
    rw = re.sub(r"^rw\.?\s*", "", value["rw"], flags=re.IGNORECASE)  # `RW 012` is RW 12 too
    number = _checked(problems, _whole, rw, "rw", 1, 999) if value["rw"] else None
    offers: dict[str, int] = {}
    for name in PACKAGE_COLUMNS:
        if value[name] and name not in packages:
            problems.append(f"package {name} is not in the package types")
        elif value[name]:
            offers[name] = _checked(problems, _money, value[name], name)
    if not any(value[name] for name in PACKAGE_COLUMNS):
        problems.append(f"no package amount ({', '.join(PACKAGE_COLUMNS)})")
    fields: dict[str, Any] = {"is_sample": sample}
    if "kk" in value:
        fields["families"] = _checked(problems, _whole, value["kk"], "kk", 1, 100_000) if value["kk"] else None
    if "jiwa" in value:
        fields["population"] = _checked(problems, _whole, value["jiwa"], "jiwa", 1, 500_000) if value["jiwa"] else None
    if "tahun" in value:
        fields["year"] = _checked(problems, _year, value["tahun"]) if value["tahun"] else None
    if "kebutuhan" in value:
        needs = list(dict.fromkeys(item.strip().lower() for item in re.split(r"[;,]", value["kebutuhan"])
                                   if item.strip()))
        unknown = [item for item in needs if item not in items]
        if unknown:
            problems.append(f"unknown need {', '.join(map(repr, unknown))} (known: {', '.join(sorted(items))})")
        fields["needs"] = {"items": needs}
    if value.get("status"):
        fields["works"] = WORKS.get(value["status"].lower())
        if fields["works"] is None:
            problems.append(f"unknown status {value['status']!r} (rencana, pengerjaan or selesai)")
    for name, limit in MAX_TEXT.items():
        if name in value:
            if len(value[name]) > limit:
                problems.append(f"{name} is longer than {limit} characters")
            fields[COLUMN_FIELD[name]] = value[name] or None
    if problems or place is None or number is None:
        raise ValueError("; ".join(problems))
    return Listing(line, place[0], place[1], number, fields, offers)


def _checked(problems: list[str], check: Any, *args: Any) -> Any:
    """`check(*args)`, or None with its complaint added to `problems`."""
    try:
        return check(*args)
    except ValueError as error:
        problems.append(str(error))
        return None


def _whole(text: str, name: str, low: int, high: int) -> int:
    """A count such as `12`, `012` or `1.200` (dots only between groups of three digits)."""
    if not WHOLE.fullmatch(text):
        raise ValueError(f"{name} is not a whole number: {text!r}")
    number = int(text.replace(".", ""))
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is outside {low}–{high}")
    return number


def _money(text: str, name: str) -> int:
    """A target in whole Rupiah: `150000000`, `150.000.000`, `Rp150.000.000` or `Rp 150.000.000,-`."""
    found = MONEY.fullmatch(text)
    if not found:
        raise ValueError(f"{name} is not a whole number of Rupiah: {text!r} (write 150000000 or 150.000.000)")
    amount = int(found.group(1).replace(".", ""))
    if not 1 <= amount <= MAX_AMOUNT:
        raise ValueError(f"{name} {_rupiah(amount)} is outside Rp1–{_rupiah(MAX_AMOUNT)}")
    return amount


def _year(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise ValueError(f"tahun is not a year between 2000 and 2100: {text!r}")
    return int(text)


def _rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def _offers_text(offers: dict[str, int]) -> str:
    return ", ".join(f"{code} {_rupiah(target)}" for code, target in offers.items())


def _rw_id(connection: sa.Connection, kelurahan_code: str, number: int, create: bool = False) -> int | None:
    where = (RW.c.kelurahan_code == kelurahan_code, RW.c.number == number)
    rw_id = connection.execute(sa.select(RW.c.id).where(*where)).scalar()
    if rw_id is None and create:
        rw_id = connection.execute(
            sa.insert(RW).values(kelurahan_code=kelurahan_code, number=number).returning(RW.c.id)).scalar_one()
    return rw_id


def _offers(connection: sa.Connection, rw_id: int) -> list[tuple[str, int, int, bool]]:
    """The RW's offers: (package code, id, target, assumed)."""
    statement = sa.select(OFFER.c.package_code, OFFER.c.id, OFFER.c.target, OFFER.c.assumed).where(
        OFFER.c.rw_id == rw_id)
    return [tuple(row) for row in connection.execute(statement).all()]  # type: ignore[misc]


def _stored(connection: sa.Connection, rw_id: int) -> tuple[dict[str, Any], dict[str, tuple[int, bool]]] | None:
    """The RW's listing fields and its offers (code → (target, assumed)), or None when it is not listed."""
    stored = connection.execute(sa.select(UPGRADE_RW).where(UPGRADE_RW.c.rw_id == rw_id)).mappings().first()
    if stored is None:
        return None
    fields = {name: stored[name] for name in (*NEW_RW, "is_sample")}
    return fields, {code: (int(target), bool(assumed)) for code, _id, target, assumed in _offers(connection, rw_id)}


def _held(connection: sa.Connection, rw_id: int, now: datetime) -> dict[str, int]:
    """What each of the RW's offers holds at `now` (live pledges and holds not yet expired), by package."""
    counting = sa.or_(PLEDGE.c.status.in_(LIVE), sa.and_(PLEDGE.c.status == PLEDGED, PLEDGE.c.expires_at > now))
    statement = (
        sa.select(OFFER.c.package_code, sa.func.sum(PLEDGE.c.amount))
        .join(OFFER, OFFER.c.id == PLEDGE.c.offer_id)
        .where(OFFER.c.rw_id == rw_id, counting)
        .group_by(OFFER.c.package_code)
    )
    return {code: int(total) for code, total in connection.execute(statement).all()}


def _target_refusal(code: str, shared: bool, held: int, stored: tuple[int, bool] | None, target: int) -> str | None:
    """Why a target cannot change now: an offer taken whole keeps its target while pledged, and a shared
    offer's target never drops below what it holds."""
    if stored is None or stored[0] == target or not held:
        return None
    if not shared:
        return f"{code} is pledged in full, so its target stays {_rupiah(stored[0])}"
    if target < held:
        return f"{code} target {_rupiah(target)} is below the {_rupiah(held)} already pledged"
    return None


def _differences(connection: sa.Connection, listing: Listing, packages: dict[str, bool],
                 now: datetime) -> list[str] | None:
    """What applying the row changes (empty: nothing), or None when the RW is not listed yet. A row
    that would remove an offer or move a pledged target is refused with a ValueError."""
    rw_id = _rw_id(connection, listing.kelurahan_code, listing.number)
    stored = _stored(connection, rw_id) if rw_id is not None else None
    if stored is None:
        return None
    fields, offers = stored
    held = _held(connection, rw_id, now)  # type: ignore[arg-type]  # listed, so it has an id
    problems, changes, assumption = [], [], []
    for code in offers.keys() - listing.offers.keys():
        problems.append(f"{code} is empty, but the RW has a {code} offer (an import never removes offers)")
    for code, target in listing.offers.items():
        refusal = _target_refusal(code, packages[code], held.get(code, 0), offers.get(code), target)
        if refusal:
            problems.append(refusal)
        elif code not in offers:
            changes.append(f"new {code} offer {_rupiah(target)}")
        elif offers[code][0] != target:
            changes.append(f"{code} target {_rupiah(offers[code][0])} → {_rupiah(target)}")
        elif offers[code][1] != listing.fields["is_sample"]:
            assumption.append(code)
    if problems:
        raise ValueError("; ".join(problems))
    if assumption:
        marked = "marked as" if listing.fields["is_sample"] else "no longer"
        changes.append(f"targets of {', '.join(assumption)} {marked} assumed")
    for name, new in listing.fields.items():
        old = fields[name]
        if old == new:
            continue
        if name in PRIVATE_FIELDS:
            changes.append(f"{'kontak' if name == 'contact' else 'pembayaran'} changed")
        elif name == "works":
            changes.append(f"status {WORKS_WORD.get(old, old)} → {WORKS_WORD[new]}")
        elif name == "needs":
            changes.append(f"kebutuhan {';'.join(old['items']) or '-'} → {';'.join(new['items']) or '-'}")
        elif name == "is_sample":
            changes.append("marked as sample data" if new else "no longer sample data")
        else:
            column = next(column for column, stored_as in COLUMN_FIELD.items() if stored_as == name)
            changes.append(f"{column} {old if old is not None else '-'} → {new if new is not None else '-'}")
    return changes
