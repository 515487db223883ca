"""`INSERT … ON CONFLICT DO NOTHING` for whichever database the session is on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignore(session: AsyncSession, table: Any, returning: Any = None, **values: Any) -> Any:
    """An insert statement that silently skips a row violating a unique constraint."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    module = sqlite if dialect == "sqlite" else postgresql
    statement = module.insert(table).values(**values).on_conflict_do_nothing()
    return statement.returning(returning) if returning is not None else statement
