"""Loads the reference data in `storage/seed/` (places, waste categories, default prices, the
sample waste bank). Synchronous and idempotent: migrations call it, and a re-run changes nothing."""

from __future__ import annotations

import csv
from datetime import date, time
from pathlib import Path

import sqlalchemy as sa

from storage.types import utcnow

SEED = Path(__file__).resolve().parent / "seed"
DEFAULT_PRICES_FROM = date(2026, 1, 1)
SAMPLE_BANK = {
    "name": "Bank Sampah Unit Melati Bersih (CONTOH)",
    "address": "Kebon Melati, Tanah Abang, Jakarta Pusat (data contoh)",
    "kelurahan": "31.71.07.1005",
    "rw": 12,
    "weekday": 5,  # Saturday
    "time": time(8, 0),
}


# The tables as the migration that loads them knows them (not the models, which may grow later).
KOTA = sa.table("kota", sa.column("code"), sa.column("name"))
KECAMATAN = sa.table("kecamatan", sa.column("code"), sa.column("kota_code"), sa.column("name"))
KELURAHAN = sa.table(
    "kelurahan", sa.column("code"), sa.column("kecamatan_code"), sa.column("name"), sa.column("lat"), sa.column("lon")
)
CATEGORY = sa.table("waste_category", sa.column("code"), sa.column("group"), sa.column("position"))
PRICE = sa.table(
    "price", sa.column("id"), sa.column("bank_id"), sa.column("category_code"), sa.column("rupiah_per_kg"),
    sa.column("effective_from", sa.Date), sa.column("created_at", sa.DateTime(timezone=True)),
)
RW = sa.table("rw", sa.column("id"), sa.column("kelurahan_code"), sa.column("number"))
BANK = sa.table(
    "waste_bank", sa.column("id"), sa.column("name"), sa.column("address"), sa.column("is_sample"),
    sa.column("weighing_weekday"), sa.column("weighing_time", sa.Time), sa.column("weighing_minutes"),
    sa.column("next_member_number"), sa.column("created_at", sa.DateTime(timezone=True)),
)
BANK_RW = sa.table("waste_bank_rw", sa.column("rw_id"), sa.column("bank_id"))


def rows(name: str) -> list[dict[str, str]]:
    with open(SEED / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_reference_data(connection: sa.Connection) -> None:
    """Insert whatever reference rows are missing."""
    _load_places(connection)
    _load_categories(connection)
    _load_sample_bank(connection)


def _insert_missing(connection: sa.Connection, table: sa.TableClause, key: str, values: list[dict[str, object]]) -> None:
    existing = set(connection.execute(sa.select(table.c[key])).scalars())
    missing = [row for row in values if row[key] not in existing]
    if missing:
        connection.execute(sa.insert(table), missing)


def _load_places(connection: sa.Connection) -> None:
    places = rows("kelurahan.csv")
    kota = {r["kode_kota"]: {"code": r["kode_kota"], "name": r["kota"]} for r in places}
    kecamatan = {
        r["kode_kecamatan"]: {"code": r["kode_kecamatan"], "kota_code": r["kode_kota"], "name": r["kecamatan"]}
        for r in places
    }
    kelurahan = [
        {
            "code": r["kode_kelurahan"],
            "kecamatan_code": r["kode_kecamatan"],
            "name": r["kelurahan"],
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
        }
        for r in places
    ]
    _insert_missing(connection, KOTA, "code", list(kota.values()))
    _insert_missing(connection, KECAMATAN, "code", list(kecamatan.values()))
    _insert_missing(connection, KELURAHAN, "code", kelurahan)


def _load_categories(connection: sa.Connection) -> None:
    categories = rows("waste_categories.csv")
    _insert_missing(
        connection,
        CATEGORY,
        "code",
        [{"code": r["code"], "group": r["group"], "position": int(r["position"])} for r in categories],
    )
    price = PRICE
    existing = set(
        connection.execute(
            sa.select(price.c.category_code).where(
                price.c.bank_id.is_(None), price.c.effective_from == DEFAULT_PRICES_FROM
            )
        ).scalars()
    )
    missing = [
        {"bank_id": None, "category_code": r["code"], "rupiah_per_kg": int(r["rupiah_per_kg"]),
         "effective_from": DEFAULT_PRICES_FROM, "created_at": utcnow()}
        for r in categories
        if r["code"] not in existing
    ]
    if missing:
        connection.execute(sa.insert(price), missing)


def _load_sample_bank(connection: sa.Connection) -> None:
    bank = BANK
    if connection.execute(sa.select(bank.c.id).where(bank.c.name == SAMPLE_BANK["name"])).first():
        return
    rw = RW
    rw_id = connection.execute(
        sa.select(rw.c.id).where(rw.c.kelurahan_code == SAMPLE_BANK["kelurahan"], rw.c.number == SAMPLE_BANK["rw"])
    ).scalar()
    if rw_id is None:
        rw_id = connection.execute(
            sa.insert(rw).values(kelurahan_code=SAMPLE_BANK["kelurahan"], number=SAMPLE_BANK["rw"]).returning(rw.c.id)
        ).scalar_one()
    bank_id = connection.execute(
        sa.insert(bank)
        .values(
            name=SAMPLE_BANK["name"],
            address=SAMPLE_BANK["address"],
            is_sample=True,
            weighing_weekday=SAMPLE_BANK["weekday"],
            weighing_time=SAMPLE_BANK["time"],
            weighing_minutes=120,
            next_member_number=1001,
            created_at=utcnow(),
        )
        .returning(bank.c.id)
    ).scalar_one()
    connection.execute(sa.insert(BANK_RW).values(rw_id=rw_id, bank_id=bank_id))


def extract_category_names(fileobj, keywords, comment_tags, options):  # type: ignore[no-untyped-def]
    """Babel extractor: the catalog keys naming each category and group in the seed file, so
    `make locales-update` keeps them (the seed file stays the one list of categories)."""
    reader = csv.DictReader(line.decode("utf-8") for line in fileobj)
    groups: set[str] = set()
    for line, row in enumerate(reader, start=2):
        yield line, "N_", f"category.{row['code']}", []
        if row["group"] not in groups:
            groups.add(row["group"])
            yield line, "N_", f"category_group.{row['group']}", []
