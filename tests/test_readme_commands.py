"""Every command in README.md's "Commands" table, run as a person runs it: a subprocess of the installed
`ksbb` against a migrated database with data in it, on SQLite and (with TEST_DATABASE_URL) on PostgreSQL,
and what it produced checked. A command in the table without a case here fails the suite.

Bad input gets one sentence on stderr, exit status 1, no traceback, and nothing half-written: wrong
scopes, unknown places, outputs that cannot be written, missing or malformed settings, databases that
are not migrated (the embedded default is migrated on first use) or cannot be reached."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command as alembic_command
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.scheduler import HEARTBEAT
from storage import pledges, schema
from storage.banks import ensure_account
from storage.db import Database
from storage.models import RW, Collaborator, Kelurahan, LedgerEntry, Offer, Pledge, WasteBank
from storage.models.roles import ADMIN, COORDINATOR, WASTE
from storage.people import find_identity, identify
from storage.places import get_or_create_rw
from storage.reports import create_report
from storage.roles import coordinators_of, grant_role, roles_of
from storage.schedule import beat, last_beat
from storage.types import utcnow
from tests.conftest import BACKENDS, ROOT, TEST_DATABASE_URL, TOKEN

KSBB = Path(sys.executable).with_name("ksbb")
# Settings a developer's shell may hold that would change what a command does.
CLEARED = ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "PUBLIC_BASE_URL", "WEBHOOK_SECRET",
           "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM", "LOG_LEVEL")

KEBON_MELATI, MENTENG, TEBET_TIMUR = "31.71.07.1005", "31.71.06.1001", "31.74.01.1001"
PHONE = "+6281234567890"

DEPOSIT_COLUMNS = ["tanggal", "bank_sampah", "kelurahan", "rw", "no_anggota", "nama", "telepon", "kategori",
                   "berat_gram", "harga_per_kg", "nilai_rp", "sumber", "status"]
PLEDGE_COLUMNS = ["referensi", "kelurahan", "rw", "paket", "jumlah_rp", "status", "dibuat", "diubah",
                  "jenis_kolaborator", "organisasi", "kontak", "telepon"]
SUMMARY_COLUMNS = ["kelurahan", "rw", "paket", "menunggu_konfirmasi_rp", "dikonfirmasi_rp", "diterima_rp",
                   "sedekah_rp", "jumlah_rp"]

# (identity, name, kelurahan, RW, grams of PET): one verified deposit each; the rows of the deposit export
# are (kelurahan, rw, nama, telepon, berat_gram).
DEPOSITORS = [
    (f"whatsapp:{PHONE}", '=HYPERLINK("http://x")', KEBON_MELATI, 12, 2500),
    ("local:budi", "Budi", KEBON_MELATI, 14, 1000),
    ("local:citra", "Citra", MENTENG, 2, 9000),
    ("local:dewi", "Dewi", TEBET_TIMUR, 3, 4000),
]
ROWS = [
    ("Kebon Melati", "012", "'=HYPERLINK(\"http://x\")", "62812*****890", "2500"),
    ("Kebon Melati", "014", "Budi", "", "1000"),
    ("Menteng", "002", "Citra", "", "9000"),
    ("Tebet Timur", "003", "Dewi", "", "4000"),
]
SCOPES = {  # every kind of scope, and the rows it holds
    "all": ROWS,
    "kota:Jakarta Pusat": ROWS[:3],
    "kelurahan:Kebon Melati": ROWS[:2],
    "rw:Kebon Melati:12": ROWS[:1],
}


# --- The README's table -----------------------------------------------------------------------


def readme_commands() -> list[str]:
    """The first column of README.md's "## Commands" table, as a person reads it (`\\|` is a `|`)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    found = [re.match(r"\| `(.+?)` \|", line) for line in section.splitlines()]
    return [match.group(1).replace("\\|", "|") for match in found if match]


# --- Databases and the command runner ---------------------------------------------------------


@contextmanager
def new_database(backend: str, directory: Path) -> Iterator[str]:
    """An empty database as a person configures it in DATABASE_URL: a SQLite file, or a PostgreSQL
    database created for this and dropped afterwards (`postgresql://…`, the driver chosen by the bot)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'ksbb-{uuid.uuid4().hex[:8]}.db'}"
        return
    assert TEST_DATABASE_URL
    server = make_url(TEST_DATABASE_URL).set(drivername="postgresql")
    name = f"ksbb_cmd_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:  # set but unreachable: fail the run, never skip
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Ksbb:
    """The installed `ksbb`, run in `cwd` with DATABASE_URL set (None: unset, the embedded default)."""

    url: str | None
    cwd: Path

    def env(self, **settings: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in CLEARED}
        if self.url is not None:
            env["DATABASE_URL"] = self.url
        return {**env, **settings}

    def __call__(self, *args: str, stdin: str = "", timeout: float = 60, **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KSBB), *args], input=stdin, capture_output=True, text=True, cwd=self.cwd,
                              env=self.env(**settings), timeout=timeout, check=False)

    def start(self, *args: str, **settings: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(KSBB), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.cwd, env=self.env(**settings))

    def ok(self, *args: str, stdin: str = "", **settings: str) -> str:
        """Run a command that must succeed; its stdout."""
        result = self(*args, stdin=stdin, **settings)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        return result.stdout


def on(url: str, work: Callable[[Database], object]) -> object:
    """Run `await work(db)` on the database, in this process."""
    async def main() -> object:
        db = Database(url)
        try:
            return await work(db)  # type: ignore[misc]
        finally:
            await db.dispose()

    return asyncio.run(main())


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """SIGTERM, then the exit status and what it printed."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


# --- What the database holds before the commands run ------------------------------------------


async def seed(db: Database) -> None:
    """Deposits in two kota, coordinators to revoke and hand over, pledges and a gift of savings."""
    now = utcnow()
    async with db.transaction() as session:
        for key, name, kelurahan, number, grams in DEPOSITORS:
            rw = await get_or_create_rw(session, kelurahan, number)
            person = (await identify(session, key, key.split(":")[0], key.split(":")[1], "id", now)).person
            person.name, person.consent_at, person.consent_version, person.rw_id = name, now, "2026-11", rw.id
            report = await create_report(session, person_id=person.id, rw_id=rw.id, bank_id=None,
                                         items=[("plastik_pet", grams)], prices={"plastik_pet": 3000}, photo=None,
                                         now=now)
            report.status = "verified"
        rw12 = await get_or_create_rw(session, KEBON_MELATI, 12)
        rw14 = await get_or_create_rw(session, KEBON_MELATI, 14)
        for key, rw_id in (("local:lama", rw12.id), ("local:pergi", rw14.id)):
            person_id = (await identify(session, key, "local", key[6:], "id", now)).person_id
            await grant_role(session, person_id, COORDINATOR, now, strand=WASTE, rw_ids=[rw_id])
        await identify(session, "local:baru", "local", "baru", "id", now)

        karet = (await session.execute(
            select(Offer.id, Offer.rw_id).join(RW, RW.id == Offer.rw_id).join(Kelurahan)
            .where(Kelurahan.name == "Karet Tengsin", RW.number == 5, Offer.package_code == "bersama")
        )).one()
        for user, organisation, amount, moves in (("pt1", "PT Maju Bersama", 25_000_000, ()),
                                                   ("pt2", "PT Dua", 10_000_000, (pledges.CONFIRMED,))):
            person = (await identify(session, f"local:{user}", "local", user, "id", now)).person
            session.add(Collaborator(person_id=person.id, type="company", organisation=organisation,
                                     contact_name="Budi Santoso", phone=PHONE, public=True))
            await session.flush()
            made = await pledges.pledge(session, person.id, karet.id, amount, now, hold=timedelta(hours=72),
                                        min_share=1_000_000)
            assert isinstance(made, Pledge), made
            for status in moves:
                assert isinstance(await pledges.move(session, made.id, status, None, now), Pledge)
        giver = (await identify(session, "local:warga", "local", "warga", "id", now)).person_id
        bank_id = (await session.execute(select(WasteBank.id).order_by(WasteBank.id))).scalars().first()
        account = await ensure_account(session, giver, bank_id)
        session.add(LedgerEntry(account_id=account.id, amount=50_000, kind="deposit"))
        await session.flush()
        gift = await pledges.give_savings(session, giver, account.id, karet.id, 10_000, now, karet.rw_id)
        assert isinstance(gift, Pledge), gift


@dataclass
class Setup:
    backend: str
    url: str
    directory: Path


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """One migrated database with data per backend, shared by the commands of this module."""
    directory = tmp_path_factory.mktemp(f"commands-{request.param}")
    with new_database(request.param, directory) as url:
        schema.upgrade(url, quiet=True)
        on(url, seed)
        yield Setup(request.param, url, directory)


@pytest.fixture
def ksbb(setup: Setup, request: pytest.FixtureRequest, tmp_path: Path) -> Ksbb:
    if setup.backend == "postgresql":
        request.node.user_properties.append(("backend", "postgresql"))
    return Ksbb(setup.url, tmp_path)


def roles(url: str, key: str) -> frozenset[str]:
    async def work(db: Database) -> frozenset[str]:
        async with db.transaction() as session:
            identity = await find_identity(session, key)
            return await roles_of(session, identity.person_id) if identity else frozenset()

    return on(url, work)  # type: ignore[return-value]


# --- One case per README command --------------------------------------------------------------

CASES: dict[str, Callable[[Ksbb, pytest.FixtureRequest], None]] = {}


def case(command: str) -> Callable[[Callable[[Ksbb, pytest.FixtureRequest], None]], Callable[..., None]]:
    def register(check: Callable[[Ksbb, pytest.FixtureRequest], None]) -> Callable[..., None]:
        CASES[command] = check
        return check

    return register


@case("ksbb run")
def _run(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """Without a token: the local chat (and the scheduler beside it), one message a line, exit at the end."""
    out = ksbb.ok("run", stdin="/start\n1\n")
    assert "> /start\nSelamat datang di KSBB Bot!" in out
    assert "> 1\nBaik, saya akan memakai Bahasa Indonesia." in out and "1. Daftar sebagai warga" in out


@case("ksbb chat --user NAME")
def _chat(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    out = ksbb.ok("chat", "--user", "siti", stdin="/start\n1\nBANTUAN\n")
    assert "> /start\nSelamat datang di KSBB Bot!" in out and "Menu utama." in out
    assert out.count("\n> ") + out.startswith("> ") == 3  # each line answered, in order


@case("ksbb web [--port 8000]")
def _web(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """Serves GET /healthz (database reachable, scheduler heartbeat fresh) and stops on SIGTERM."""
    async def fresh_heartbeat(db: Database) -> None:
        async with db.transaction() as session:
            await beat(session, HEARTBEAT, utcnow())

    on(ksbb.url or "", fresh_heartbeat)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = ksbb.start("web", "--host", "127.0.0.1", "--port", str(port))
    try:
        deadline, response = time.monotonic() + 60, None
        while response is None:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate(timeout=10)
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
        assert (response.status_code, response.json()) == (200, {"database": "ok", "scheduler": "ok"})
    finally:
        code, _out, err = stop(process)
    assert code == 0 and "Traceback" not in err, (code, err)  # stopped cleanly, the pool and the client closed


@case("ksbb telegram set-webhook")
def _set_webhook(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    fake = request.getfixturevalue("fake")
    secret = "s3cret-" + uuid.uuid4().hex
    out = ksbb.ok("telegram", "set-webhook", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
                  PUBLIC_BASE_URL="https://ksbb.example.org/", WEBHOOK_SECRET=secret)
    assert out.strip() == "Webhook set: https://ksbb.example.org/telegram"
    [call] = [call for call in fake.requests if call.method == "setWebhook"]
    assert (call.params["url"], call.params["secret_token"]) == ("https://ksbb.example.org/telegram", secret)
    assert "message" in call.params["allowed_updates"] and fake.webhook_url == "https://ksbb.example.org/telegram"
    assert secret not in out


@case("ksbb worker")
def _worker(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """Starts the senders and the scheduler (which beats its heartbeat), and stops on SIGTERM."""
    async def heartbeat(db: Database) -> object:
        async with db.transaction() as session:
            return await last_beat(session, HEARTBEAT)

    url = ksbb.url or ""
    before = heartbeat_at = on(url, heartbeat)
    process = ksbb.start("worker")
    try:
        deadline = time.monotonic() + 60
        while heartbeat_at == before:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate(timeout=10)
            time.sleep(0.2)
            heartbeat_at = on(url, heartbeat)
    finally:
        code, _out, err = stop(process)
    assert code == 0 and "Traceback" not in err, err


@case("ksbb db upgrade")
def _db_upgrade(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """An empty database is migrated to the head revision; again, it changes nothing."""
    backend = request.getfixturevalue("setup").backend
    with new_database(backend, ksbb.cwd) as empty:
        fresh = Ksbb(empty, ksbb.cwd)
        assert schema.current_revisions(empty) == set()
        fresh.ok("db", "upgrade")
        assert schema.current_revisions(empty) == schema.head_revisions()
        fresh.ok("db", "upgrade")
        assert schema.current_revisions(empty) == schema.head_revisions()


@case("ksbb admin create --user telegram:ID")
def _admin_create(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    key = f"telegram:{uuid.uuid4().int % 10**9}"
    assert ksbb.ok("admin", "create", "--user", key).strip() == f"{key} is now an admin."
    assert ADMIN in roles(ksbb.url or "", key)


@case("ksbb admin invite --role coordinator --rw 'Kebon Melati:12' [--rw …] [--phone +62…] [--hours 72]")
def _admin_invite(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """The printed code, redeemed in the local chat, makes its holder coordinator of both RWs."""
    out = ksbb.ok("admin", "invite", "--role", "coordinator", "--rw", "Kebon Melati:12", "--rw", "Kebon Melati:14",
                  "--hours", "24")
    assert out.startswith("Invite code (valid 24 hours, single use): /kode ")
    code = out.split("/kode ")[1].split()[0]
    user = f"rina{uuid.uuid4().hex[:6]}"
    chat = ksbb.ok("chat", "--user", user, stdin=f"/kode {code}\nSetuju\nRina Marlina\n")
    assert "Selamat, Bapak/Ibu sekarang koordinator untuk 2 RW." in chat
    assert COORDINATOR in roles(ksbb.url or "", f"local:{user}")


@case("ksbb admin revoke --user KEY --role coordinator")
def _admin_revoke(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    url = ksbb.url or ""
    assert COORDINATOR in roles(url, "local:pergi")
    assert ksbb.ok("admin", "revoke", "--user", "local:pergi", "--role", "coordinator").strip() == (
        "Revoked 1 coordinator grant(s) of local:pergi.")
    assert COORDINATOR not in roles(url, "local:pergi")


@case("ksbb admin handover --rw 'Kebon Melati:12' --to KEY")
def _admin_handover(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    async def coordinators(db: Database) -> set[str]:
        """Which of the old and the new coordinator coordinate RW 012 (an invite may have added others)."""
        async with db.transaction() as session:
            rw = await get_or_create_rw(session, KEBON_MELATI, 12)
            people = set(await coordinators_of(session, rw.id, WASTE))
            found = {key: await find_identity(session, key) for key in ("local:lama", "local:baru")}
            return {key for key, identity in found.items() if identity and identity.person_id in people}

    assert on(ksbb.url or "", coordinators) == {"local:lama"}
    assert ksbb.ok("admin", "handover", "--rw", "Kebon Melati:12", "--to", "local:baru").strip() == (
        "RW 012 Kebon Melati (waste) is now coordinated by local:baru.")
    assert on(ksbb.url or "", coordinators) == {"local:baru"}


def deposit_rows(path: Path, format: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """The header and the (kelurahan, rw, nama, telepon, berat_gram) of each row of a deposit export."""
    if format == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, for spreadsheet programs
        [header, *rows] = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    else:
        workbook = load_workbook(path)
        assert workbook.sheetnames == ["setoran"]
        [header, *rows] = [["" if cell is None else str(cell) for cell in row]
                           for row in workbook["setoran"].iter_rows(values_only=True)]
    return header, [(row[2], row[3], row[5], row[6], row[8]) for row in rows]


@case("ksbb export deposits --scope kelurahan:'Kebon Melati' --format csv|xlsx [--output FILE]")
def _export_deposits(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """Every kind of scope in both formats, each in a fresh process (two at a time); the default file name too."""
    def export(scope: str, format: str) -> tuple[Path, str]:
        path = ksbb.cwd / f"{scope.replace(':', '_').replace(' ', '_')}.{format}"
        return path, ksbb.ok("export", "deposits", "--scope", scope, "--format", format, "--output", str(path))

    runs = [(scope, format) for scope in SCOPES for format in ("csv", "xlsx")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda run: export(*run), runs))
    for (scope, format), (path, out) in zip(runs, results, strict=True):
        expected = SCOPES[scope]
        assert out.strip() == f"{len(expected)} rows written to {path}.", scope
        assert deposit_rows(path, format) == (DEPOSIT_COLUMNS, expected), (scope, format)
        assert path.stat().st_mode & 0o777 == 0o600  # names of residents: for the owner only
    assert ksbb.ok("export", "deposits").strip() == "4 rows written to setoran.csv."
    assert deposit_rows(ksbb.cwd / "setoran.csv", "csv") == (DEPOSIT_COLUMNS, ROWS)
    assert sorted(path.name for path in ksbb.cwd.iterdir() if path.name.startswith(".")) == []  # no temp files


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@case("ksbb export pledges [--out FILE]")
def _export_pledges(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    out_file = ksbb.cwd / "semua-ikrar.csv"
    assert ksbb.ok("export", "pledges", "--out", str(out_file)).strip() == f"3 rows written to {out_file}."
    [header, *rows] = read_csv(out_file)
    assert header == PLEDGE_COLUMNS
    shown = [(row[1], row[2], row[3], row[4], row[5], row[8], row[9], row[10], row[11]) for row in rows]
    assert shown == [
        ("Karet Tengsin", "005", "bersama", "25000000", "pledged", "company", "PT Maju Bersama", "B*** S***",
         "62812*****890"),
        ("Karet Tengsin", "005", "bersama", "10000000", "confirmed", "company", "PT Dua", "B*** S***", "62812*****890"),
        ("Karet Tengsin", "005", "bersama", "10000", "received", "sedekah", "Warga RW 005 (sedekah sampah)", "", ""),
    ]
    assert all(re.fullmatch(r"KSBB-\d{4}-\d{6}", row[0]) for row in rows[:2]) and rows[2][0] == ""
    assert ksbb.ok("export", "pledges").strip() == "3 rows written to ikrar.csv."
    assert read_csv(ksbb.cwd / "ikrar.csv") == [header, *rows]


@case("ksbb export pledges --summary [--out FILE]")
def _export_pledge_summary(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    expected = [SUMMARY_COLUMNS, ["Karet Tengsin", "005", "bersama", "25000000", "10000000", "0", "10000", "35010000"]]
    out_file = ksbb.cwd / "ringkasan.csv"
    assert ksbb.ok("export", "pledges", "--summary", "--out", str(out_file)).strip() == f"1 rows written to {out_file}."
    assert read_csv(out_file) == expected
    assert ksbb.ok("export", "pledges", "--summary").strip() == "1 rows written to ikrar-ringkasan.csv."
    assert read_csv(ksbb.cwd / "ikrar-ringkasan.csv") == expected


CATALOG = ("kota,kecamatan,kelurahan,rw,kk,jiwa,kebutuhan,status,kontak,pembayaran,tahun,utama,lengkap,bersama\n"
           "Jakarta Pusat,Menteng,Pegangsaan,9,250,1100,drainase;mck,rencana,Pak Ketua,Via Baznas,2026,,,200000000\n")


@case("ksbb catalog import FILE.csv [--apply] [--sample]")
def _catalog_import(ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    """A dry run reports and writes nothing; --apply --sample writes the RW with an assumed target."""
    async def pegangsaan(db: Database) -> list[tuple[str, int, bool]]:
        async with db.transaction() as session:
            found = await session.execute(
                select(Offer.package_code, Offer.target, Offer.assumed).join(RW, RW.id == Offer.rw_id)
                .join(Kelurahan).where(Kelurahan.name == "Pegangsaan", RW.number == 9))
            return [tuple(row) for row in found]  # type: ignore[misc]

    url = ksbb.url or ""
    path = ksbb.cwd / "katalog.csv"
    path.write_text(CATALOG, encoding="utf-8")
    out = ksbb.ok("catalog", "import", str(path))
    assert out.splitlines() == ["added 1, changed 0, unchanged 0, rejected 0",
                                "  line 2: add Pegangsaan RW 009 (bersama Rp200.000.000)",
                                "Dry run: nothing written. Run again with --apply to write these changes."]
    assert on(url, pegangsaan) == []
    out = ksbb.ok("catalog", "import", str(path), "--apply", "--sample")
    assert out.splitlines()[-1] == "Applied in one transaction: 1 RWs added, 0 changed."
    assert on(url, pegangsaan) == [("bersama", 200_000_000, True)]


def test_every_readme_command_has_a_case() -> None:
    commands = readme_commands()
    assert len(commands) >= 14 and "ksbb run" in commands
    assert set(commands) - set(CASES) == set(), "README commands without a test case"
    assert set(CASES) - set(commands) == set(), "cases for commands no longer in the README"


@pytest.mark.parametrize("command", list(CASES))
def test_the_readme_command_does_what_it_says(command: str, ksbb: Ksbb, request: pytest.FixtureRequest) -> None:
    CASES[command](ksbb, request)


# --- Bad input -------------------------------------------------------------------------------


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit status 1, one sentence on stderr naming the problem, no traceback; the sentence."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob("*"))


# Refusals that do not depend on the database run on SQLite only (the in-process tests cover both backends).
on_sqlite = pytest.mark.parametrize("setup", ["sqlite"], indirect=True)


@pytest.mark.parametrize(("args", "words"), [
    (("export", "deposits", "--scope", "region:Jakarta"), ("region:Jakarta", "is not all, kota:NAME")),
    (("export", "deposits", "--scope", "kelurahan:Atlantis", "--format", "xlsx"), ("kelurahan:Atlantis", "no RW")),
    (("export", "deposits", "--scope", "kota:Atlantis"), ("kota:Atlantis", "no RW")),
    (("export", "deposits", "--scope", "rw:Kebon Melati:77"), ("rw:Kebon Melati:77", "no RW")),
    (("export", "deposits", "--scope", "rw:Kebon Melati:dua belas"), ("is not rw:KELURAHAN:NUMBER",)),
    (("export", "deposits", "--scope", "kelurahan:"), ("names no place",)),
    (("admin", "invite", "--role", "coordinator", "--rw", "Atlantis:12"), ("'Atlantis' names 0 kelurahan",)),
    (("admin", "invite", "--role", "coordinator", "--rw", "Kebon Melati:duabelas"), ("is not KELURAHAN:NUMBER",)),
    (("admin", "invite", "--role", "coordinator"), ("needs at least one --rw",)),
    (("admin", "handover", "--rw", "Atlantis:12", "--to", "local:baru"), ("names 0 kelurahan",)),
    (("admin", "revoke", "--user", "telegram:999", "--role", "admin"), ("Nobody with the identity telegram:999",)),
    (("catalog", "import", "nowhere.csv"), ("nowhere.csv", "Nothing written.")),
], ids=lambda value: " ".join(value) if isinstance(value, tuple) and value[0] in ("export", "admin", "catalog")
    else "")
@on_sqlite
def test_a_wrong_scope_or_an_unknown_place_is_refused_and_writes_nothing(
    ksbb: Ksbb, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    before = files(ksbb.cwd)
    assert_refused(ksbb(*args), *words)
    assert files(ksbb.cwd) == before  # no export file, default or temporary


@pytest.mark.parametrize("args", [
    ("export", "deposits", "--output", "{missing}/setoran.csv"),
    ("export", "deposits", "--format", "xlsx", "--output", "{directory}"),
    ("export", "pledges", "--out", "{missing}/ikrar.csv"),
    ("export", "pledges", "--summary", "--out", "{readonly}/ringkasan.csv"),
])
@on_sqlite
def test_an_output_that_cannot_be_written_is_refused_and_leaves_nothing(ksbb: Ksbb, args: tuple[str, ...]) -> None:
    places = {"missing": ksbb.cwd / "no-such-folder", "directory": ksbb.cwd / "a-folder",
              "readonly": ksbb.cwd / "read-only"}
    places["directory"].mkdir()
    places["readonly"].mkdir(mode=0o555)
    if os.access(places["readonly"], os.W_OK):  # root writes anywhere: a file where the folder should be
        places["readonly"].rmdir()
        places["readonly"].write_text("not a folder")
    before = files(ksbb.cwd)
    filled = [arg.format(**places) for arg in args]
    assert_refused(ksbb(*filled), "Cannot write", filled[-1])
    assert files(ksbb.cwd) == before


@on_sqlite
def test_a_failed_export_keeps_the_earlier_file(ksbb: Ksbb) -> None:
    earlier = ksbb.cwd / "setoran.csv"
    earlier.write_bytes(b"earlier export\n")
    assert_refused(ksbb("export", "deposits", "--scope", "kelurahan:Atlantis", "--output", str(earlier)), "Atlantis")
    assert earlier.read_bytes() == b"earlier export\n" and files(ksbb.cwd) == ["setoran.csv"]


@pytest.mark.parametrize(("args", "settings", "words"), [
    (("run",), {"TELEGRAM_GLOBAL_PER_SECOND": "fast"}, ("Setting TELEGRAM_GLOBAL_PER_SECOND is invalid",)),
    (("chat", "--user", "siti"), {"DATABASE_URL": "mysql://ksbb@localhost/ksbb"}, ("Setting DATABASE_URL is invalid",)),
    (("export", "deposits"), {"DATABASE_URL": "sqlite"}, ("Setting DATABASE_URL is invalid",)),
    (("worker",), {"TIMEZONE": "Mars/Olympus"}, ("Setting TIMEZONE is invalid", "not a known time zone")),
    (("web",), {"WHATSAPP_TEMPLATES": "{broadcast: HX1"}, ("Setting WHATSAPP_TEMPLATES is invalid", "JSON")),
    (("admin", "create", "--user", "telegram:1"), {"DEFAULT_LOCALE": "fr"}, ("Setting DEFAULT_LOCALE is invalid",)),
    (("telegram", "set-webhook"), {"TELEGRAM_BOT_TOKEN": TOKEN},
     ("TELEGRAM_BOT_TOKEN, PUBLIC_BASE_URL and WEBHOOK_SECRET are needed",)),
    (("export", "pledges"), {"DATABASE_URL": "postgresql://ksbb@127.0.0.1:1/ksbb"}, ("cannot be reached",)),
], ids=["malformed number", "unknown database", "unparsable database URL", "unknown time zone", "malformed JSON",
        "unknown locale", "missing webhook settings", "unreachable database"])
def test_a_missing_or_malformed_setting_is_one_sentence_and_exit_1(
    tmp_path: Path, args: tuple[str, ...], settings: dict[str, str], words: tuple[str, ...]
) -> None:
    result = Ksbb(None, tmp_path)(*args, **settings)
    assert_refused(result, *words)
    assert TOKEN not in result.stderr and files(tmp_path) == []  # nothing created, not even ksbb.db


NOT_MIGRATED = [
    ("chat", "--user", "siti"), ("run",), ("worker",), ("web",), ("admin", "create", "--user", "telegram:1"),
    ("export", "deposits"), ("export", "pledges", "--summary"), ("catalog", "import", "katalog.csv"),
]


@pytest.mark.parametrize(("backend", "args"), [
    *[("sqlite", args) for args in NOT_MIGRATED],
    *[("postgresql", args) for args in NOT_MIGRATED[:1] + NOT_MIGRATED[5:6] if "postgresql" in BACKENDS],
], ids=lambda value: " ".join(value) if isinstance(value, tuple) else value)
def test_a_database_that_is_not_migrated_is_named_with_the_command_to_run(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str, args: tuple[str, ...]
) -> None:
    if backend == "postgresql":
        request.node.user_properties.append(("backend", "postgresql"))
    with new_database(backend, tmp_path) as empty:
        before = files(tmp_path)
        sentence = assert_refused(Ksbb(empty, tmp_path)(*args), "is not migrated", "run `ksbb db upgrade` first")
        assert files(tmp_path) == before  # the SQLite file is not even created
        assert schema.current_revisions(empty) == set()
        assert (make_url(empty).password or "\0") not in sentence


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_behind_the_head_revision_is_named_with_the_command_to_run(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "postgresql":
        request.node.user_properties.append(("backend", "postgresql"))
    with new_database(backend, tmp_path) as behind:
        config = schema._config(behind, quiet=True)
        alembic_command.upgrade(config, "head")
        alembic_command.downgrade(config, "-1")
        result = Ksbb(behind, tmp_path)("export", "deposits", "--output", str(tmp_path / "setoran.csv"))
        assert_refused(result, "is at revision", "behind", "run `ksbb db upgrade` first")
        assert not (tmp_path / "setoran.csv").exists()


@pytest.mark.parametrize(("args", "stdin", "printed"), [
    (("chat", "--user", "siti"), "/start\n", "Selamat datang di KSBB Bot!"),
    (("run",), "/start\n", "Selamat datang di KSBB Bot!"),
    (("export", "deposits"), "", "0 rows written to setoran.csv."),
    (("admin", "create", "--user", "telegram:4242"), "", "telegram:4242 is now an admin."),
], ids=["chat", "run", "export", "admin"])
def test_the_embedded_default_database_is_migrated_on_first_use(
    tmp_path: Path, args: tuple[str, ...], stdin: str, printed: str
) -> None:
    ksbb = Ksbb(None, tmp_path)
    first = ksbb(*args, stdin=stdin)
    assert first.returncode == 0 and printed in first.stdout, first.stderr
    assert first.stderr.strip() == "Migrated the embedded database ksbb.db."
    assert schema.current_revisions(f"sqlite:///{tmp_path / 'ksbb.db'}") == schema.head_revisions()
    if args[0] == "chat":  # once migrated, nothing more to say
        second = ksbb(*args, stdin=stdin)
        assert second.returncode == 0 and second.stderr == ""
