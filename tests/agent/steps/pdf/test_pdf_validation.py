"""Params of pdf.* nodes that can be checked before a run are checked by `rpa validate`, with the JSON path."""

from __future__ import annotations

from typing import Any

from shared.flow import validate_document
from shared.steps import StepRegistry


def _problems(params: dict[str, Any], step_type: str = "pdf.read_tables") -> list[dict[str, Any]]:
    document = {
        "schema": "rpa.flow/1",
        "name": "check",
        "nodes": [{"id": "read", "type": step_type, "params": params}],
    }
    return [p.to_dict() for p in validate_document(document, StepRegistry.default())]


def test_bad_page_selection_and_table_settings_are_found_with_their_path() -> None:
    problems = _problems({"path": "a.pdf", "pages": "1-x", "table_settings": {"snapp_tolerance": 3}})
    by_path = {p["path"]: p["message"] for p in problems}
    assert "is not a page selection" in by_path["$.nodes[0].params.pages"]
    assert "unknown table setting(s) ['snapp_tolerance']" in by_path["$.nodes[0].params.table_settings"]


def test_expressions_are_left_for_run_time_and_good_params_pass() -> None:
    assert _problems({"path": "{{ inputs.file }}", "pages": "{{ inputs.pages }}"}) == []
    assert _problems({"path": "a.pdf", "pages": "2-", "strategy": "unruled"}) == []
    bad_direction = _problems({"path": "a.pdf", "anchor": "Total", "direction": "diagonal"}, "pdf.find_near")
    assert [p["path"] for p in bad_direction] == ["$.nodes[0].params.direction"]
