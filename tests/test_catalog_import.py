"""`ksbb catalog import`: a dry run reports and writes nothing, --apply writes in one audited transaction,
a re-import changes nothing, and every bad row of a broken file is named by its line with nothing
written; `ksbb export pledges` masks the collaborators' contacts and shows residents' gifts only per RW."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import cli
from storage import pledges
from storage.catalog_import import plan
from storage.db import Database
from storage.models import RW, Account, AuditEntry, Collaborator, Kelurahan, LedgerEntry, Offer, UpgradeRW
from storage.people import identify
from storage.types import utcnow

HEADER = "kota,kecamatan,kelurahan,rw,kk,jiwa,kebutuhan,status,kontak,pembayaran,tahun,utama,lengkap,bersama\n"
NEW_RW = "Jakarta Pusat,Menteng,Pegangsaan,9,250,1100,drainase;mck,rencana,Pak Ketua 0812,Via Baznas,2026,,,200000000\n"
CHANGED_RW = ("Kota Administrasi Jakarta Pusat,Tanah Abang,Karet Tengsin,005,,,,rencana,,\"Melalui agregator\n"
              "(dua baris)\",2021,1500000000,750000000,175.000.000\n")
GOOD = HEADER + NEW_RW + CHANGED_RW


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """`ksbb catalog import` on a file with the given content: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def run(content: str | bytes, *options: str) -> tuple[int, str, str]:
        path = tmp_path / "katalog.csv"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        code = await asyncio.to_thread(cli.main, ["catalog", "import", str(path), *options])
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def catalog(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every listing and offer as stored (to prove that nothing was written)."""
    async with db.transaction() as session:
        listings = (await session.execute(select(
            UpgradeRW.rw_id, UpgradeRW.families, UpgradeRW.needs, UpgradeRW.payment, UpgradeRW.works,
            UpgradeRW.is_sample, UpgradeRW.updated_at).order_by(UpgradeRW.rw_id))).all()
        offers = (await session.execute(select(Offer.rw_id, Offer.package_code, Offer.target, Offer.assumed)
                                        .order_by(Offer.id))).all()
    return [tuple(row) for row in listings], [tuple(row) for row in offers]


async def offers_of(db: Database, kelurahan: str, number: int) -> dict[str, tuple[int, int, bool]]:
    """The RW's offers: package code → (id, target, assumed)."""
    async with db.transaction() as session:
        statement = (
            select(Offer.package_code, Offer.id, Offer.target, Offer.assumed).join(RW, RW.id == Offer.rw_id)
            .join(Kelurahan, Kelurahan.code == RW.kelurahan_code)
            .where(Kelurahan.name == kelurahan, RW.number == number)
        )
        found = await session.execute(statement)
        return {code: (offer_id, target, assumed) for code, offer_id, target, assumed in found}


def targets(offers: dict[str, tuple[int, int, bool]]) -> dict[str, tuple[int, bool]]:
    return {code: (target, assumed) for code, (_id, target, assumed) in offers.items()}


async def test_a_dry_run_reports_what_would_change_and_writes_nothing(db: Database, run) -> None:
    before = await catalog(db)
    code, out, _ = await run(GOOD)
    assert code == 0
    assert "added 1, changed 1, unchanged 0, rejected 0" in out
    assert "line 2: add Pegangsaan RW 009 (bersama Rp200.000.000)" in out
    assert "line 3: change Karet Tengsin RW 005: bersama target Rp150.000.000 → Rp175.000.000" in out
    assert "pembayaran changed" in out and "Via Baznas" not in out
    assert "Dry run: nothing written" in out
    assert await catalog(db) == before


async def test_apply_writes_in_one_audited_transaction_and_a_reimport_changes_nothing(db: Database, run) -> None:
    code, out, _ = await run(GOOD, "--apply")
    assert code == 0 and "Applied in one transaction: 1 RWs added, 1 changed." in out
    assert targets(await offers_of(db, "Pegangsaan", 9)) == {"bersama": (200_000_000, False)}
    assert targets(await offers_of(db, "Karet Tengsin", 5)) == {  # real targets now, no longer assumed
        "utama": (1_500_000_000, False), "lengkap": (750_000_000, False), "bersama": (175_000_000, False)}
    async with db.transaction() as session:
        listing = (await session.execute(select(UpgradeRW).join(RW).join(Kelurahan).where(
            Kelurahan.name == "Pegangsaan", RW.number == 9))).scalar_one()
        assert (listing.families, listing.population, listing.needs, listing.year, listing.works, listing.is_sample) \
            == (250, 1100, {"items": ["drainase", "mck"]}, 2026, "planned", False)
        audit = (await session.execute(select(AuditEntry).where(AuditEntry.action == "catalog_import"))).scalar_one()
        assert (audit.actor, audit.outcome, audit.target, audit.detail["added"], audit.detail["changed"]) == (
            "cli", "applied", "katalog.csv", 1, 1)
    written = await catalog(db)

    code, out, _ = await run(GOOD, "--apply")
    assert code == 0
    assert "added 0, changed 0, unchanged 2, rejected 0" in out
    assert "Nothing to change" in out
    assert await catalog(db) == written


async def test_the_shipped_sample_imports_unchanged_as_a_sample(db: Database, run) -> None:
    sample = (Path(__file__).resolve().parent.parent / "storage/seed/ksbb_catalog_sample.csv").read_bytes()
    before = await catalog(db)
    code, out, _ = await run(sample, "--sample", "--apply")
    assert (code, out.splitlines()[0]) == (0, "added 0, changed 0, unchanged 34, rejected 0")
    assert await catalog(db) == before


BROKEN = {
    "missing fields": (
        HEADER + NEW_RW + "Jakarta Pusat,Menteng,Menteng,2,,,,\n",
        ["line 3: rejected: 8 fields where the header has 14"],
    ),
    "bad numbers": (
        HEADER + "Jakarta Pusat,Menteng,Pegangsaan,x1,,,,,,,,,,150000000\n"
        + "Jakarta Pusat,Menteng,Pegangsaan,9,banyak,,,,,,,,,150000000.00\n"
        + "Jakarta Pusat,Menteng,Pegangsaan,10,,,,,,,,,,0\n"
        + "Jakarta Pusat,Menteng,Pegangsaan,11,,,,,,,,,,\n",
        ["line 2: rejected: rw is not a whole number: 'x1'",
         "line 3: rejected: bersama is not a whole number of Rupiah: '150000000.00'",
         "kk is not a whole number: 'banyak'",
         "line 4: rejected: bersama Rp0 is outside",
         "line 5: rejected: no package amount"],
    ),
    "duplicate RWs": (
        HEADER + NEW_RW + "Jakarta Pusat,Menteng,Pegangsaan,009,,,,,,,,,,150000000\n"
        + "Jakarta Pusat,Tanah Abang,Kebon Melati,12,,,,,,,,1,1,1\n"
        + "Jakarta Pusat,Tanah Abang,Kebon Melati,012,,,,,,,,1,1,1\n"
        + "Jakarta Pusat,Tanah Abang,Kebon Melati,RW 12,,,,,,,,1,1,1\n",
        ["line 3: rejected: Pegangsaan RW 009 is already on line 2",
         "line 5: rejected: Kebon Melati RW 012 is already on line 4",
         "line 6: rejected: Kebon Melati RW 012 is already on line 4"],
    ),
    "unknown kelurahan, need and status": (
        HEADER + "Jakarta Pusat,Menteng,Kebon Melati,9,,,,,,,,,,150000000\n"
        + "Jakarta Pusat,Menteng,Atlantis,9,,,,,,,,,,150000000\n"
        + CHANGED_RW  # a quoted field over two lines: the rows after it keep their physical line numbers
        + "Jakarta Pusat,Menteng,Pegangsaan,9,,,kolam renang,,,,,,,150000000\n"
        + "Jakarta Pusat,Menteng,Pegangsaan,10,,,,hampir,,,,,,150000000\n",
        ["line 2: rejected: unknown kelurahan 'Kebon Melati' in kecamatan 'Menteng', 'Jakarta Pusat' "
         "(it is in Tanah Abang, Jakarta Pusat)",
         "line 3: rejected: unknown kelurahan 'Atlantis'",
         "line 6: rejected: unknown need 'kolam renang'",
         "line 7: rejected: unknown status 'hampir' (rencana, pengerjaan or selesai)"],
    ),
}


@pytest.mark.parametrize("kind", BROKEN)
async def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(db: Database, run, kind: str) -> None:
    content, expected = BROKEN[kind]
    before = await catalog(db)
    code, out, _ = await run(content, "--apply")
    assert code == 1
    for line in expected:
        assert line in out
    rejected = {line.split(":")[0] for line in expected if line.startswith("line")}
    assert [line for line in out.splitlines() if "rejected:" in line] == [
        line for line in out.splitlines() if line.strip().split(":")[0] in rejected]
    assert f"Nothing written: {len(rejected)} rows rejected" in out
    assert await catalog(db) == before


@pytest.mark.parametrize("content, message", [
    ("kota,kecamatan,kelurahan,rw,utama,lengkap\nJakarta Pusat,Menteng,Pegangsaan,9,1,1\n", "missing columns: bersama"),
    ("", "the file is empty"),
    (HEADER.encode() + "Jakarta Pusat,Menteng,Pegangsaan,9,,,,,Pak Andr\u00e9,,,,,150000000\n".encode("latin-1"),
     "line 2: the file is not UTF-8"),
    (bytes(range(256)) * 4, "not UTF-8"),
    (HEADER + 'Jakarta Pusat,Menteng,Pegangsaan,9,,,,,"Pak Ketua,,,,,150000000\n',
     "line 2: the row cannot be read as CSV"),
])
async def test_a_file_that_is_not_a_catalog_is_refused_naming_the_problem(
    db: Database, run, content: str | bytes, message: str,
) -> None:
    before = await catalog(db)
    code, out, err = await run(content, "--apply")
    assert code == 1
    assert message in err and "Nothing written." in err
    assert await catalog(db) == before


async def test_a_missing_file_is_refused(run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(cli.main, ["catalog", "import", str(tmp_path / "nowhere.csv")])
    assert code == 1
    assert "cannot be read (No such file or directory)" in capsys.readouterr().err


async def collaborator_pledge(db: Database, offer_id: int, amount: int, name: str = "Budi Santoso") -> int:
    """A company collaborator's pledge (held, unconfirmed)."""
    now = utcnow()
    async with db.transaction() as session:
        who = (await identify(session, f"local:{name}", "local", name, "id", now)).person_id
        session.add(Collaborator(person_id=who, type="company", organisation="PT Maju Bersama",
                                 contact_name=name, phone="+6281234567890", public=False))
        await session.flush()
        made = await pledges.pledge(session, who, offer_id, amount, now, hold=pledges.Terms().hold, min_share=1_000_000)
        assert isinstance(made, pledges.Pledge)
        return made.id


async def test_a_pledged_target_stays_and_a_shared_one_never_drops_below_what_is_pledged(db: Database, run) -> None:
    karet = await offers_of(db, "Karet Tengsin", 5)
    await collaborator_pledge(db, karet["lengkap"][0], 750_000_000)
    await collaborator_pledge(db, karet["bersama"][0], 25_000_000, "Dewi Lestari")
    before = await catalog(db)
    code, out, _ = await run(HEADER + CHANGED_RW.replace("750000000,175.000.000", "800000000,20.000.000"), "--apply")
    assert code == 1
    assert ("line 2: rejected: lengkap is pledged in full, so its target stays Rp750.000.000; "
            "bersama target Rp20.000.000 is below the Rp25.000.000 already pledged") in out
    assert await catalog(db) == before
    code, out, _ = await run(HEADER + CHANGED_RW.replace("175.000.000", "25.000.000"))
    assert code == 0 and "bersama target Rp150.000.000 → Rp25.000.000" in out


async def test_a_column_left_out_keeps_what_is_stored(db: Database, run) -> None:
    """Kebon Melati RW 012 is done; a file without `status` (or `pembayaran`) does not undo that."""
    before = await catalog(db)
    code, out, _ = await run("kota,kecamatan,kelurahan,rw,utama,lengkap,bersama,catatan\n"
                             "Jakarta Pusat,Tanah Abang,Kebon Melati,12,1500000000,750000000,150000000,x\n",
                             "--sample", "--apply")
    assert (code, out.splitlines()[:2]) == (0, ["added 0, changed 0, unchanged 1, rejected 0",
                                                "  ignored columns: catatan"])
    assert await catalog(db) == before


async def test_plan_counts_physical_lines_across_quoted_line_breaks(db: Database) -> None:
    async with db.engine.connect() as connection:
        planned = await connection.run_sync(lambda sync: plan(sync, (HEADER + CHANGED_RW + NEW_RW).encode()))
    assert [item.line for item in planned.changed + planned.added] == [2, 4]


async def test_the_pledge_export_masks_contacts_and_shows_gifts_only_per_rw(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    karet = await offers_of(db, "Karet Tengsin", 5)
    pledge_id = await collaborator_pledge(db, karet["bersama"][0], 25_000_000)
    async with db.transaction() as session:
        rw_id = (await session.execute(select(RW.id).join(Kelurahan).where(
            Kelurahan.name == "Karet Tengsin", RW.number == 5))).scalar_one()
        siti = (await identify(session, "whatsapp:+6285712345678", "whatsapp", "Siti Aminah", "id", utcnow())).person_id
        account = Account(person_id=siti, bank_id=1, member_number=1001)
        session.add(account)
        await session.flush()
        session.add(LedgerEntry(account_id=account.id, amount=50_000, kind="deposit"))
        await session.flush()
        for amount in (10_000, 5_000):
            gift = await pledges.give_savings(session, siti, account.id, karet["bersama"][0], amount, utcnow(), rw_id)
            assert isinstance(gift, pledges.Pledge)
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "ikrar.csv"
    assert await asyncio.to_thread(cli.main, ["export", "pledges", "--out", str(out)]) == 0
    content = out.read_bytes().decode("utf-8-sig")
    for private in ("6281234567890", "Budi Santoso", "Siti", "6285712345678"):
        assert private not in content
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 2
    pledged, given = sorted(rows, key=lambda row: row["jenis_kolaborator"])
    assert (pledged["referensi"], pledged["kelurahan"], pledged["rw"], pledged["paket"], pledged["jumlah_rp"],
            pledged["status"], pledged["organisasi"], pledged["kontak"], pledged["telepon"]) == (
        f"KSBB-{utcnow():%Y}-{pledge_id:06d}", "Karet Tengsin", "005", "bersama", "25000000", "pledged",
        "PT Maju Bersama", "B*** S***", "62812*****890")
    assert (given["referensi"], given["jumlah_rp"], given["status"], given["organisasi"], given["kontak"],
            given["telepon"]) == ("", "15000", "received", "Warga RW 005 (sedekah sampah)", "", "")
