"""The /templates resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/templates", tags=["templates"])
