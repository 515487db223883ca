"""Rows read afresh and locked until the transaction ends: how every decision that may race is read."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def locked(session: AsyncSession, model: type[Row], row_id: int, *options: Any) -> Row | None:
    """The row with this id, read afresh (not from the session's memory) and locked (FOR UPDATE); None if gone."""
    statement = (
        select(model).where(model.id == row_id).with_for_update()  # type: ignore[attr-defined]
        .options(*options).execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()
