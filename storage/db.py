"""Database engines and transactions for SQLite (aiosqlite) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DEFAULT_URL = "sqlite:///ksbb.db"  # the embedded database in the working directory


def async_url(url: str) -> str:
    """The asyncio driver URL for a configured database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database backend {backend!r}")


def sync_url(url: str) -> str:
    """The synchronous driver URL (Alembic, CLI) for a configured database URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys and `BEGIN IMMEDIATE` for every transaction.

    On PostgreSQL a pooled connection is checked when taken from the pool: after the database was away while
    the pool sat idle (a restart, a failover, a cut at night), the next update then gets a fresh connection
    instead of a 503 and a redelivery (tests/test_database_cut.py)."""
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(async_url(url), **kwargs)
    if is_sqlite(engine):
        _configure_sqlite(engine)
    else:
        _ping_only_when_readable(engine)
    return engine


def _ping_only_when_readable(engine: AsyncEngine) -> None:
    """Ping a pooled connection only when its socket has something to read. An idle connection the server
    closed (or is closing: a restart sends a notice first) has an end of file or a message waiting; one with
    nothing to read is as alive as a ping could tell without a round trip, which would otherwise cost every
    transaction one more statement. A connection cut without a word (a dead network) is then found by its
    first real statement: that update is answered 503, delivered again, and the pool starts afresh."""
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection) -> bool:  # type: ignore[no-untyped-def]
        try:
            readable, _, _ = select.select([dbapi_connection.driver_connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # the socket is closed already
            readable = [True]
        return ping(dbapi_connection) if readable else True

    dialect.do_ping = do_ping  # type: ignore[method-assign]


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=10000")  # first, so switching to WAL waits for a writer
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory; `transaction()` is the only way to write."""

    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def process_pool(url: str) -> dict[str, object]:
    """Pool settings for a bot process. On SQLite one connection: every transaction there takes the write lock
    (`BEGIN IMMEDIATE`), so they run one at a time anyway, and they then wait their turn in the process, in
    order, instead of polling SQLite's lock, whose waits are unfair: under a burst of webhook requests some
    outlasted busy_timeout and failed (bench/README.md, intake)."""
    return {"pool_size": 1, "max_overflow": 0} if make_url(url).get_backend_name() == "sqlite" else {}
