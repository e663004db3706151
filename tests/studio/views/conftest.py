"""Fixtures of the studio's view tests: a small flow with a browser, an HTTP and a loop step,
and the folder the screenshots go to (`build/screenshots/studio`, ignored by git)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from shared.steps import StepRegistry
from studio.model import FlowDocument

FLOW: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Invoices",
    "x-kept": {"by": "another tool"},
    "inputs": {"base_url": {"type": "string", "required": True}},
    "variables": {"total": 0, "unused": "x"},
    "outputs": {"status": "{{ steps.call.output.status }}"},
    "nodes": [
        {"id": "open", "type": "browser.goto", "params": {"url": "{{ inputs.base_url }}/login"}},
        {
            "id": "click",
            "type": "browser.click",
            "params": {"target": "#go", "modifiers": ["Shift"], "click_count": "three", "bogus": {"a": 1}},
        },
        {
            "id": "call",
            "type": "http.request",
            "params": {"url": "https://api.example/v1", "headers": {"Accept": "application/json"}},
        },
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": "{{ steps.call.output.body }}"},
            "body": {"nodes": [{"id": "show", "type": "core.log", "params": {"message": "x"}}], "edges": []},
        },
        {"id": "later", "type": "core.log", "params": {"message": "done"}},
    ],
    "edges": [
        {"from": "open", "to": "click"},
        {"from": "click", "to": "call"},
        {"from": "call", "to": "each"},
        {"from": "each", "to": "later"},
    ],
}


@pytest.fixture(scope="session")
def registry() -> StepRegistry:
    return StepRegistry.default()


@pytest.fixture
def doc(registry: StepRegistry) -> FlowDocument:
    return FlowDocument(copy.deepcopy(FLOW), registry=registry)


@pytest.fixture(scope="session")
def shots() -> Path:
    folder = Path(__file__).resolve().parents[3] / "build" / "screenshots" / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
