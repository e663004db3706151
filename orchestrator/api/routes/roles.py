"""The /roles resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/roles", tags=["roles"])
