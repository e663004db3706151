"""Storage models: workflows."""

from __future__ import annotations
