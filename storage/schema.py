"""Whether a database's schema is at the migrations' head: the one place that compares the database's
Alembic revision with the scripts', and that runs `alembic upgrade head`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from storage.db import DEFAULT_URL, sync_url

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


class SchemaError(Exception):
    """The database cannot be used as it is; the message is one sentence for the operator."""


def _config(database_url: str | None = None, *, quiet: bool = False):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if quiet:
        config.attributes["configure_logging"] = False  # no "Running upgrade …" lines (storage/migrations/env.py)
    return config


def head_revisions() -> set[str]:
    """The head revision(s) of the migration scripts."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_config()).get_heads())


def shown(database_url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def current_revisions(database_url: str) -> set[str]:
    """The revision(s) the database is at; empty when it was never migrated (or, for SQLite, does not exist:
    the file is not created by asking). Raises SchemaError when the database cannot be reached."""
    from alembic.runtime.migration import MigrationContext

    url = make_url(sync_url(database_url))
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).is_file():
        return set()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise SchemaError(f"The database {shown(database_url)} cannot be reached: {reason(exc)}.") from None
    finally:
        engine.dispose()


def reason(exc: SQLAlchemyError) -> str:
    """The driver's first line, without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0].rstrip(".")


def is_embedded_default(database_url: str) -> bool:
    """The embedded SQLite database used when DATABASE_URL is not set."""
    return database_url == DEFAULT_URL


def ensure_current(database_url: str) -> bool:
    """Make sure the schema is at head before a command uses it. The embedded default database is
    migrated on first use (returns True when it was); any other database that is not migrated, or is
    behind, raises SchemaError telling to run `ksbb db upgrade`. A database ahead of these scripts (a
    newer release migrated it) is left to the code running on it."""
    current, heads = current_revisions(database_url), head_revisions()
    if current == heads:
        return False
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    known = {revision.revision for revision in script.walk_revisions()}
    if current and not current <= known:
        return False  # ahead of this code
    if is_embedded_default(database_url):
        upgrade(database_url, quiet=True)
        return True
    state = (f"is at revision {', '.join(sorted(current))}, behind {', '.join(sorted(heads))}" if current
             else "is not migrated")
    raise SchemaError(f"The database {shown(database_url)} {state}: run `ksbb db upgrade` first.")


def upgrade(database_url: str, *, quiet: bool = False) -> None:
    """`alembic upgrade head` on the database; SchemaError when it cannot be reached."""
    from alembic import command

    try:
        command.upgrade(_config(database_url, quiet=quiet), "head")
    except SQLAlchemyError as exc:
        raise SchemaError(f"The database {shown(database_url)} could not be migrated: {reason(exc)}.") from None
