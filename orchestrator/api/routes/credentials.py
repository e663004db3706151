"""The /credentials resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/credentials", tags=["credentials"])
