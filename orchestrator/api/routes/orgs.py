"""The /orgs resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/orgs", tags=["orgs"])
