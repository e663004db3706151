"""The recorded list follows the protocol's replace/insert semantics; the review reorders and removes."""

from __future__ import annotations

import pytest

from studio.views.recorder import Recording, describe, param_path, start_url


def _action(node_id: str, step: str, before: str | None = None, **params: object) -> dict[str, object]:
    event: dict[str, object] = {"event": "action", "node": {"id": node_id, "type": step, "params": params}}
    if before is not None:
        event["before"] = before
    return event


def test_new_ids_append_seen_ids_replace_and_before_inserts() -> None:
    recording = Recording()
    assert recording.apply(_action("click_1", "browser.click", target="#user")) == 0
    assert recording.apply(_action("fill_1", "browser.fill", target="#user", value="a")) == 1
    assert recording.apply(_action("fill_1", "browser.fill", target="#user", value="ann")) == 1
    assert recording.apply(_action("click_2", "browser.click", target="#go")) == 2
    assert recording.apply(_action("handle_dialog_1", "browser.handle_dialog", before="click_2")) == 2

    assert recording.ids() == ["click_1", "fill_1", "handle_dialog_1", "click_2"]
    assert recording.nodes[1]["params"] == {"target": "#user", "value": "ann"}

    assert recording.move(3, -1) == 2
    assert recording.ids() == ["click_1", "fill_1", "click_2", "handle_dialog_1"]
    assert recording.move(0, -1) == 0  # already first
    recording.remove(3)
    assert recording.ids() == ["click_1", "fill_1", "click_2"]
    with pytest.raises(ValueError, match="without a node"):
        recording.apply({"event": "action"})


def test_the_list_line_names_step_and_target_and_never_a_password() -> None:
    fill = {
        "type": "browser.fill",
        "params": {"target": {"selector": 'internal:label="Password"i'}, "credential": "erp.password"},
    }
    assert describe(fill) == 'fill  label="Password"i  credential=erp.password'
    assert describe({"type": "browser.goto", "params": {"url": "https://x.test/"}}) == "goto  url=https://x.test/"


def test_the_start_url_and_field_paths() -> None:
    raw = {
        "nodes": [{"id": "n", "type": "core.noop"}, {"id": "o", "type": "browser.open", "params": {"url": "http://a"}}]
    }
    assert start_url(raw) == "http://a"
    assert start_url({"nodes": []}) is None
    assert param_path("target") == ["target"]
    assert param_path("$.params.target") == ["target"]
    assert param_path("$.nodes[2].params.target.selector") == ["target", "selector"]
    with pytest.raises(ValueError, match="names no param"):
        param_path("$.params")
