"""Finding a flow's assets through the step catalogue's `x-rpa-asset` marks: normalised names,
problems with their JSON path, files checked by content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.steps.desktop._locators import parse_target
from shared.flow import (
    AssetError,
    asset_uses,
    check_asset,
    find_assets,
    image_paths,
    missing_assets,
    normalise_asset_path,
    validate_document,
)
from shared.steps import StepRegistry

REGISTRY = StepRegistry.default()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def node(node_id: str, target: str, step: str = "desktop.click") -> dict[str, Any]:
    return {"id": node_id, "type": step, "params": {"target": target}}


def document(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "rpa.flow/1", "name": "Assets", "nodes": list(nodes), "edges": []}


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("ok.png", "ok.png"),
        ("./images//ok.png", "images/ok.png"),
        ("images\\ok.png", "images/ok.png"),
        (" a b.png ", "a b.png"),
    ],
)
def test_names_are_normalised(written: str, name: str) -> None:
    assert normalise_asset_path(written) == name


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("../up.png", "leaves the flow's folder"),
        ("images/../../up.png", "leaves the flow's folder"),
        ("/etc/x.png", "is absolute"),
        ("C:/x.png", "is absolute"),
        ("", "is empty"),
        ("./", "names no file"),
        ("a|b.png", "not allowed"),
        ("x" * 300 + ".png", "longer than 255"),
    ],
)
def test_bad_names_say_why(written: str, reason: str) -> None:
    with pytest.raises(AssetError, match=reason):
        normalise_asset_path(written)


@pytest.mark.parametrize(
    "target",
    [
        "image:ok.png",
        'image:"a >> b.png" >> offset:3,4',
        'window:"Invoice*" >> region:0,0,10,10 >> image:images/ok.png >> right-of:20',
        'ocr:"Total" >> below',
        'image:"q\\"uote.png"',
    ],
)
def test_image_paths_agree_with_the_desktop_locator_parser(target: str) -> None:
    parsed = [segment.value for segment in parse_target(target) if segment.kind == "image"]
    assert image_paths(target) == parsed


def test_assets_are_found_in_marked_params_of_nested_graphs_with_their_paths() -> None:
    loop = {
        "id": "each",
        "type": "control.foreach",
        "params": {"items": "{{ [1, 2] }}"},
        "body": {"nodes": [node("inner", "image:./images/ok.png >> offset:5,0")], "edges": []},
    }
    drag = {"id": "drag", "type": "desktop.drag", "params": {"target": "image:from.png", "to": "image:images/ok.png"}}
    flow = document(
        loop,
        drag,
        node("absolute", "image:/opt/shared/ok.png"),
        node("inline", "image:data:image/png;base64,iVBORw0KGgo="),
        node("computed", "{{ inputs.target }}"),
        node("text", 'ocr:"Submit"'),
    )
    assert find_assets(flow, REGISTRY) == {
        "images/ok.png": [("nodes", 0, "body", "nodes", 0, "params", "target"), ("nodes", 1, "params", "to")],
        "from.png": [("nodes", 1, "params", "target")],
    }


def test_a_name_leaving_the_folder_is_a_validation_problem_with_its_json_path() -> None:
    problems = validate_document(document(node("a", "image:../secret.png")), REGISTRY)
    found = [(p.path, p.code) for p in problems]
    assert ("$.nodes[0].params.target", "asset") in found
    [problem] = [p for p in problems if p.code == "asset"]
    assert "leaves the flow's folder" in problem.message
    assert [use.problem is not None for use in asset_uses(document(node("a", "image:../secret.png")), REGISTRY)] == [
        True
    ]


def test_missing_assets_are_reported_against_the_flows_folder(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ok.png").write_bytes(PNG)
    flow = document(node("a", "image:images/ok.png"), node("b", "image:images/gone.png"))
    [problem] = missing_assets(flow, REGISTRY, tmp_path)
    assert (problem.path, problem.code) == ("$.nodes[1].params.target", "asset_missing")
    assert "asset 'images/gone.png' is not a file in" in problem.message


def test_contents_are_checked_against_the_kind_their_name_gives() -> None:
    assert check_asset("ok.png", PNG) == "image/png"
    assert check_asset("photo.JPG", b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert check_asset("schema.json", b'{"type": "object"}') == "application/json"
    assert check_asset("letter.docx", b"PK\x03\x04...").startswith("application/vnd.openxmlformats")
    for name, data, reason in [
        ("ok.png", b"GIF89a...", "is not a PNG image"),
        ("page.html", b"\xff\xfe\x00bad", "is not UTF-8 text"),
        ("run.sh", b"#!/bin/sh", "cannot be assets"),
        ("book.xlsx", b"not a zip", "not a ZIP package"),
    ]:
        with pytest.raises(AssetError, match=reason):
            check_asset(name, data)
