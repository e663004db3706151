"""Every step param that holds a credential's name is marked `x-rpa-credential`, so the
orchestrator delivers that credential with the job and checks the flow may use it
(`shared.flow.find_credential_params`). An unmarked one would fail on the agent with "no
credential named …" although the vault holds it."""

from __future__ import annotations

import re
from typing import Any

from shared.steps import StepRegistry

NAMES_A_CREDENTIAL = re.compile(r"credential|password")
NOT_A_NAME: set[str] = set()
"""Params whose name matches but hold no credential name (none today; listed here when added)."""
OTHER_NAMES = {"data.encrypt_fields.key", "data.decrypt_fields.key", "vault.get.name"}
"""Marked params whose name does not say so."""


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = list((schema.get("properties") or {}).items())
    for body in (schema.get("$defs") or {}).values():
        found += list((body.get("properties") or {}).items())
    return found


def test_params_that_name_a_credential_are_marked() -> None:
    unmarked, marked = [], set()
    for definition in StepRegistry.default():
        for name, prop in _properties(definition.params.model_json_schema()):
            where = f"{definition.name}.{name}"
            if prop.get("x-rpa-credential"):
                marked.add(where)
            elif NAMES_A_CREDENTIAL.search(name) and where not in NOT_A_NAME:
                unmarked.append(where)
    assert unmarked == []
    assert marked >= OTHER_NAMES
    assert {"http.request.credential", "files.copy.credential", "pdf.read_text.password"} <= marked
