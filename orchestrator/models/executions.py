"""Storage models: executions."""

from __future__ import annotations
