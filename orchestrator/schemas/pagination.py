"""The envelope of every list: items plus how to get the rest."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

COUNT_CAP = 10_000
"""Lists of tables that grow without bound (executions, audit entries) count at most this many
matching rows: an exact count reads every matching row on every page, so its cost grows with the
table, while the page itself (by cursor) does not."""


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    """Set by lists that also page by cursor (faster than a deep offset)."""
    total_capped: bool = False
    """True when more rows match than `total` says: counting stopped at `COUNT_CAP` (10,000), so
    `total` is a lower bound ("10,000+"). Narrow the filters for an exact count."""


async def capped_count(session: AsyncSession, matching: Select[Any], cap: int | None = None) -> tuple[int, bool]:
    """How many rows `matching` selects, reading at most `cap` (default `COUNT_CAP`) + 1 of them:
    `(count, capped)`, where `capped` means there are more than `cap` (and `count` is then `cap`)."""
    cap = COUNT_CAP if cap is None else cap
    counted = int(await session.scalar(select(func.count()).select_from(matching.limit(cap + 1).subquery())) or 0)
    return min(counted, cap), counted > cap
