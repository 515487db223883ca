"""Shared fixtures: a migrated database per test on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.engine import Engine
from bot.logs import install as install_log_scrubbing
from bot.logs import quiet_libraries
from bot.settings import Settings
from handlers import build_dialog
from storage.db import Database
from storage.schema import upgrade
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])

_postgres_ran = 0


def pytest_configure(config: pytest.Config) -> None:
    install_log_scrubbing()
    quiet_libraries()
    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL"):
        os.environ.pop(name, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """TEST_DATABASE_URL set but unreachable fails the run at once (exit code 3), never skips."""
    if TEST_DATABASE_URL:
        admin = make_url(TEST_DATABASE_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            psycopg.connect(admin, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_ran
    if report.when == "call" and report.passed and ("backend", "postgresql") in report.user_properties:
        _postgres_ran += 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_ran}")


class PostgresSeed:
    """The state of the run's database right after `alembic upgrade head` (the migrations seed the
    reference data and the sample catalog), put back before each PostgreSQL test.

    Why not a clone of a template database per test: CREATE DATABASE ... TEMPLATE copies and fsyncs
    every file of the database, system catalogs included, and took 0.6 s here, slower than the
    TRUNCATE and reload it would have replaced (0.25-0.5 s). Why not a rolled-back transaction: many
    tests open several connections or processes and commit from parallel sessions. So the seed rows
    are kept in memory (binary COPY) and put back by one DELETE per table, a COPY per seeded table
    and one setval per sequence, with triggers and foreign-key checks off (session_replication_role =
    replica, which needs a superuser) so that the rows, trigger-kept rollups included, are exactly
    the snapshot: 0.04 s a test (median). Connections a previous test left open are ended first, as
    a dropped clone would end them."""

    def __init__(self, url: str) -> None:
        self.url = url  # what the tests get, with TEST_DATABASE_URL's driver
        self.libpq_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self.libpq_url) as conn:
            self.tables = [name for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )]
            self.sequences = conn.execute(
                "SELECT quote_ident(sequencename), coalesce(last_value, start_value), last_value IS NOT NULL"
                " FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
            self.rows: dict[str, bytes] = {}
            for table in self.tables:
                if conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone() == (0,):
                    continue
                copy_out = sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(sql.Identifier(table))
                with conn.cursor().copy(copy_out) as out:
                    self.rows[table] = b"".join(bytes(chunk) for chunk in out)

    def restore(self) -> None:
        with psycopg.connect(self.libpq_url) as conn:
            # A connection a previous test left open must not write into this test's rows.
            conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            conn.execute("SET LOCAL session_replication_role = replica")  # no triggers, no foreign-key checks
            for table in self.tables:
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for table, data in self.rows.items():
                copy_in = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
                with conn.cursor().copy(copy_in) as into:
                    into.write(data)
            if self.sequences:
                setvals = (f"setval('{name}', {value}, {called})" for name, value, called in self.sequences)
                conn.execute("SELECT " + ", ".join(setvals))


@pytest.fixture(scope="session")
def postgres_seed() -> Iterator[PostgresSeed]:
    """A fresh, migrated PostgreSQL database for this run, dropped at the end, and its seed state."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL: TEST_DATABASE_URL is not set")
    admin = make_url(TEST_DATABASE_URL).set(drivername="postgresql")
    name = f"ksbb_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:  # set but unreachable: fail the run, never skip
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)
    url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield PostgresSeed(url)
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "ksbb.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ksbb.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    seed: PostgresSeed = request.getfixturevalue("postgres_seed")
    request.node.user_properties.append(("backend", "postgresql"))
    seed.restore()
    return seed.url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for tests: no .env file, limits raised tenfold (the fakes match them), short waits."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        telegram_global_per_second=300,
        telegram_chat_burst=10,
        telegram_chat_per_second=100.0,
        sender_idle_seconds=0.05,
        sender_lease_seconds=5.0,
    )


async def count(db: Database, sql: str, **params: object) -> int:
    """A scalar from a raw SQL query (for assertions)."""
    async with db.transaction() as session:
        return int((await session.execute(text(sql), params)).scalar_one())


TOKEN = "123456:TEST-token-0123456789abcdefghijklmnop"


def telegram_env(database_url: str, fake: FakeBotAPI, **more: str) -> dict[str, str]:
    """The environment of a `ksbb` process talking to the fake Bot API at the fake's limits."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_GLOBAL_PER_SECOND": "300",
        "TELEGRAM_CHAT_BURST": "10",
        "TELEGRAM_CHAT_PER_SECOND": "100",
        **more,
    }


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeBotAPI]:
    """One fake Bot API for the run, limits matching the `settings` fixture."""
    with FakeBotAPI(token=TOKEN, global_per_second=300, chat_burst=10, chat_per_second=100) as fake:
        yield fake


@pytest.fixture
def fake(fake_api: FakeBotAPI) -> FakeBotAPI:
    fake_api.reset()
    fake_api.latency = 0.0
    return fake_api


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilioAPI]:
    """One fake Twilio REST API for the run (a module may override it with its own)."""
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
def twilio_api(twilio_server: FakeTwilioAPI) -> FakeTwilioAPI:
    """The shared fake, fresh, at the default rate and without latency whatever the previous test set."""
    twilio_server.reset()
    twilio_server.messages_per_second, twilio_server.latency = 80, 0.0
    return twilio_server


@pytest.fixture
def telegram_settings(settings: Settings, fake: FakeBotAPI) -> Settings:
    return settings.model_copy(
        update={"telegram_bot_token": SecretStr(TOKEN), "telegram_api_base_url": fake.base_url}
    )


@pytest.fixture
def engine(db: Database) -> Engine:
    """The engine over every flow, as the app builds it (replies leased to the owner "test")."""
    return Engine(db, build_dialog(timedelta(minutes=30)), "test", "id", 5.0)
