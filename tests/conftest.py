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
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.cli import upgrade
from bot.engine import Engine
from bot.logs import install as install_log_scrubbing
from bot.logs import quiet_libraries
from bot.settings import Settings
from handlers import build_dialog
from storage.catalog_import import load_sample_catalog
from storage.db import Database, sync_url
from storage.models import Base
from storage.reference import load_reference_data
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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_ran
    if report.when == "call" and report.passed and ("backend", "postgresql") in report.user_properties:
        _postgres_ran += 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_ran}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run, dropped at the end."""
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
    yield url
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
    url: str = request.getfixturevalue("postgres_url")
    request.node.user_properties.append(("backend", "postgresql"))
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        load_reference_data(connection)
        load_sample_catalog(connection)
    engine.dispose()
    return url


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
