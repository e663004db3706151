"""The /executions resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/executions", tags=["executions"])
