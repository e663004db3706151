"""The envelope of every list: items plus how to get the rest."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    """Set by lists that also page by cursor (faster than a deep offset)."""
