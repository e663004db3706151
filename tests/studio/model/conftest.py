"""Fixtures of the studio model's tests: the step catalogue and a small flow with a bit of everything."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.steps import StepRegistry
from studio.model import FlowDocument

SAMPLE: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Sample",
    "x-custom": {"kept": [1, 2.5, "three"]},
    "inputs": {"customer": {"type": "string", "required": True}},
    "outputs": {"result": "{{ steps.pick.output }}"},
    "variables": {"count": 0, "unused": "x"},
    "nodes": [
        {"id": "start", "type": "core.log", "params": {"message": "hi {{ inputs.customer }}"}, "ui": {"x": 0, "y": 0}},
        {"id": "check", "type": "control.if", "params": {"condition": "{{ vars.count > 1 }}"}, "ui": {"x": 0, "y": 99}},
        {"id": "pick", "type": "core.noop", "params": {"value": "{{ steps.start.output }}"}, "ui": {"x": -9, "y": 200}},
        {"id": "other", "type": "core.noop", "params": {"value": 2}, "ui": {"x": 100, "y": 200}},
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": [1, 2, 3]},
            "body": {"nodes": [{"id": "inner", "type": "core.noop", "params": {"value": "{{ item }}"}}], "edges": []},
            "ui": {"x": 0, "y": 300},
            "x-plugin": "kept too",
        },
        {
            "id": "guard",
            "type": "control.try",
            "body": {"nodes": [{"id": "risky", "type": "core.noop"}], "edges": []},
            "catch": {"nodes": [], "edges": []},
            "ui": {"x": 0, "y": 400},
        },
    ],
    "edges": [
        {"from": "start", "to": "check"},
        {"from": "check", "port": "true", "to": "pick"},
        {"from": "check", "port": "false", "to": "other"},
        {"from": "pick", "to": "each"},
        {"from": "other", "to": "each"},
        {"from": "each", "to": "guard"},
    ],
}


@pytest.fixture(scope="session")
def registry() -> StepRegistry:
    return StepRegistry.default()


@pytest.fixture
def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


@pytest.fixture
def doc(sample: dict[str, Any], registry: StepRegistry) -> FlowDocument:
    return FlowDocument(sample, registry=registry)
