"""The rules that turn a params JSON Schema into fields (Qt-free), checked on the real steps,
and a form built for every step of the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from shared.steps import StepRegistry
from studio.model import FlowDocument
from studio.views.properties import FieldSpec, PropertiesPanel, field_spec, params_fields
from studio.views.properties._schema import choose, fits, initial


def fields(registry: StepRegistry, step: str) -> dict[str, FieldSpec]:
    definition = registry.get(step)
    return {f.name: f for f in params_fields(definition.params.model_json_schema(), definition.capability)}


def test_the_special_fields_are_found_by_mark_format_and_name(registry: StepRegistry) -> None:
    assert fields(registry, "excel.read")["path"].kind == "file"  # a name rule
    assert fields(registry, "excel.read")["storage_credential"].kind == "credential"  # x-rpa-credential
    assert fields(registry, "excel.read")["storage_credential"].nullable
    assert fields(registry, "word.fill_template")["template"].kind == "file"  # x-rpa-asset: file
    assert fields(registry, "browser.click")["target"].kind == "selector"  # browser + name
    assert fields(registry, "browser.get_all")["selector"].kind == "selector"
    assert fields(registry, "desktop.click")["target"].kind == "image_target"  # x-rpa-asset: targets
    assert fields(registry, "http.request")["url"].kind == "text"  # not a browser step: plain text
    assert field_spec("out", {"type": "string", "format": "path"}, {}).kind == "file"


def test_plain_kinds_bounds_and_nesting(registry: StepRegistry) -> None:
    click = fields(registry, "browser.click")
    assert click["click_count"].kind == "int"
    assert (click["click_count"].minimum, click["click_count"].maximum) == (1, 3)
    assert click["button"].kind == "enum"
    assert click["button"].enum == ("left", "right", "middle")
    assert click["modifiers"].kind == "list"
    assert click["modifiers"].item is not None
    assert click["modifiers"].item.kind == "enum"
    assert click["position"].kind == "object"
    assert click["position"].nullable
    http = fields(registry, "http.request")
    assert http["headers"].kind == "map"
    auth = http["auth"]
    assert auth.kind == "choice"
    assert choose(auth, {"kind": "bearer", "credential": "erp"}) is not None
    chosen = auth.alternatives[choose(auth, {"kind": "bearer", "credential": "erp"}) or 0]
    assert {c.name: c.kind for c in chosen.children}["credential"] == "credential"
    assert initial(chosen) == {"kind": "bearer"}


def test_values_a_widget_cannot_show() -> None:
    number = field_spec("n", {"type": "integer"}, {})
    assert fits(number, 3)
    assert not fits(number, "three")
    assert not fits(number, True)
    assert fits(number, "{{ vars.n }}")  # an expression fits any field
    closed = field_spec("o", {"type": "object", "properties": {"a": {"type": "string"}}}, {})
    assert not fits(closed, {"a": "x", "unknown": 1})


@pytest.mark.gui
def test_a_form_is_built_for_every_step_of_the_catalogue(qtbot: QtBot, registry: StepRegistry) -> None:
    nodes: list[dict[str, Any]] = [
        {"id": f"n{number}", "type": definition.name} for number, definition in enumerate(registry)
    ]
    doc = FlowDocument({"schema": "rpa.flow/1", "name": "all", "nodes": nodes, "edges": []}, registry=registry)
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    for node in nodes:
        doc.selection.select([node["id"]])
        assert panel.node_id == node["id"]
        assert panel.context.rows or not registry.get(node["type"]).params.model_fields


TEMPLATES = sorted((Path(__file__).resolve().parents[4] / "resources" / "templates").glob("*.json"))


@pytest.mark.gui
def test_every_node_of_the_example_flows_gets_a_form_without_a_raw_field(qtbot: QtBot, registry: StepRegistry) -> None:
    assert len(TEMPLATES) >= 10
    panel: PropertiesPanel | None = None
    for template in TEMPLATES:
        doc = FlowDocument.open(template, registry=registry)
        panel = PropertiesPanel(doc, credential_names=lambda: ["erp"])
        qtbot.addWidget(panel)
        for node_id in doc.index.nodes:
            doc.selection.select([node_id])
            assert panel.node_id == node_id
            # Valid example flows: every value fits its field (none falls back to "kept as it is").
            raw = [path for path, row in panel.context.rows.items() if row.raw]
            assert raw == [], f"{template.name}: {node_id}: {raw}"
