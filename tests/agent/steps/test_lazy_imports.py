"""The agent starts without httpx, SQLAlchemy or keyring: importing the families loads none of
them, and a step whose library is missing fails with the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.steps.db import query
from shared.errors import StepError
from shared.steps import StepEnvironment

HEAVY = ("httpx", "sqlalchemy", "keyring", "asyncpg", "aiosqlite")


def test_importing_the_families_loads_no_heavy_library() -> None:
    code = (
        "import sys, agent.steps.http, agent.steps.db, agent.steps.credentials; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


async def test_a_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # `import sqlalchemy` now raises ImportError
    env = StepEnvironment()
    with pytest.raises(StepError) as missing:
        await env.run(query, {"url": "sqlite://", "sql": "SELECT 1"})
    assert missing.value.kind == "dependency"
    assert "rpa-suite[db]" in missing.value.message
