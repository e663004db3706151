"""Storage models: vault."""

from __future__ import annotations
