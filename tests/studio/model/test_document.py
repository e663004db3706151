"""Opening, saving, recovering: byte-stable saves, unknown parts kept, broken files shown."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.steps import StepRegistry
from studio.model import (
    DocumentError,
    FlowDocument,
    LiveValidation,
    NewerFormatError,
    RecentFiles,
    Recovery,
    Settings,
)


def test_a_saved_file_saves_back_byte_for_byte_with_unknown_parts(
    sample: dict[str, Any], registry: StepRegistry, tmp_path: Path
) -> None:
    first = tmp_path / "flow.json"
    FlowDocument(sample, registry=registry).save(first)
    opened = FlowDocument.open(first, registry=registry)
    assert not opened.dirty
    second = opened.save(tmp_path / "again.json")
    assert second.read_bytes() == first.read_bytes()
    kept = json.loads(second.read_text())
    assert kept["x-custom"] == {"kept": [1, 2.5, "three"]}
    assert kept["nodes"][4]["x-plugin"] == "kept too"
    # An edit elsewhere keeps them too.
    opened.execute("set_param", node="other", name="value", value=3)
    opened.save()
    assert json.loads(first.read_text())["x-custom"] == {"kept": [1, 2.5, "three"]}


def test_a_partly_invalid_file_opens_with_its_problems_at_their_nodes(registry: StepRegistry, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(
            {
                "schema": "rpa.flow/1",
                "name": "Broken",
                "nodes": [
                    {"id": "ok", "type": "core.log", "params": {"message": "fine"}},
                    {"id": "typo", "type": "core.lgo", "params": {}},
                    {"id": "bad", "type": "core.wait", "params": {"seconds": "soon"}},
                ],
                "edges": [{"from": "ok", "to": "nowhere"}],
            }
        )
    )
    doc = FlowDocument.open(path, registry=registry)
    assert set(doc.index.nodes) == {"ok", "typo", "bad"}
    live = LiveValidation(doc)
    live.run()
    by_node = {(p.node, p.problem.code) for p in live.problems}
    assert ("typo", "unknown_step") in by_node
    assert ("bad", "invalid_param") in by_node
    assert (None, "dangling_edge") in by_node
    typo = next(p for p in live.problems if p.node == "typo")
    assert typo.problem.path == "$.nodes[1].type"
    assert "did you mean 'core.log'" in typo.problem.message


def test_a_newer_format_is_refused_and_a_syntax_error_names_the_line(registry: StepRegistry, tmp_path: Path) -> None:
    newer = tmp_path / "newer.json"
    newer.write_text('{"schema": "rpa.flow/2", "name": "Future", "nodes": []}')
    with pytest.raises(NewerFormatError, match=r"rpa\.flow/2, newer than the rpa\.flow/1 this studio reads"):
        FlowDocument.open(newer, registry=registry)
    broken = tmp_path / "syntax.json"
    broken.write_text('{"schema": "rpa.flow/1",\n "name": }')
    with pytest.raises(DocumentError, match="line 2"):
        FlowDocument.open(broken, registry=registry)


def test_yaml_is_imported_and_saved_only_as_json(registry: StepRegistry, tmp_path: Path) -> None:
    source = tmp_path / "flow.yaml"
    source.write_text("schema: rpa.flow/1\nname: From YAML\nnodes:\n  - id: a\n    type: core.noop\n")
    doc = FlowDocument.open(source, registry=registry)
    assert doc.path is None
    assert doc.dirty  # not saved as JSON yet
    with pytest.raises(DocumentError, match="choose where to save"):
        doc.save()
    with pytest.raises(DocumentError, match="saved as JSON"):
        doc.save(tmp_path / "flow.yml")
    saved = doc.save(tmp_path / "flow.json")
    assert json.loads(saved.read_text())["nodes"] == [{"id": "a", "type": "core.noop"}]
    assert not doc.dirty


def test_save_is_atomic_and_leaves_no_temporary_file(doc: FlowDocument, tmp_path: Path) -> None:
    target = tmp_path / "flow.json"
    target.write_text("old")
    doc.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.json"]
    assert json.loads(target.read_text())["name"] == "Sample"


def test_autosave_is_offered_back_after_a_crash(doc: FlowDocument, registry: StepRegistry, tmp_path: Path) -> None:
    flow = doc.save(tmp_path / "flow.json")
    os.utime(flow, (1_000, 1_000))
    recovery = Recovery(tmp_path / "recovery", clock=lambda: 2_000.0)
    assert recovery.autosave(doc) is None  # nothing unsaved
    doc.execute("set_param", node="other", name="value", value="unsaved")
    assert recovery.autosave(doc) is not None
    # A new studio starts after the crash.
    candidates = Recovery(tmp_path / "recovery").candidates()
    assert [(c.original, c.title) for c in candidates] == [(flow, "Sample")]
    restored = Recovery(tmp_path / "recovery").restore(candidates[0], registry=registry)
    assert restored.dirty
    assert restored.node("other")["params"]["value"] == "unsaved"
    assert restored.path == flow
    Recovery(tmp_path / "recovery").discard(candidates[0])
    assert Recovery(tmp_path / "recovery").candidates() == []


def test_a_recovery_is_dropped_once_saved_and_never_offered_when_older(doc: FlowDocument, tmp_path: Path) -> None:
    recovery = Recovery(tmp_path / "rec")
    doc.execute("set_param", node="other", name="value", value="x")
    recovery.autosave(doc)  # untitled
    doc.save(tmp_path / "flow.json")
    recovery.autosave(doc)  # the next tick: saved, nothing to keep
    assert recovery.candidates() == []
    doc.execute("set_param", node="other", name="value", value="y")
    recovery.autosave(doc)
    assert len(recovery.candidates()) == 1
    # The studio died, the file was saved later by another editor: the recovery is older.
    later = recovery.candidates()[0].saved_at + 60
    os.utime(tmp_path / "flow.json", (later, later))
    assert Recovery(tmp_path / "rec").candidates() == []


def test_recent_files_newest_first_without_duplicates_or_missing_files(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "cfg" / "settings.json")
    recent = RecentFiles(settings, limit=3)
    files = [tmp_path / f"{n}.json" for n in range(5)]
    for file in files:
        file.write_text("{}")
    for file in [*files, files[2]]:
        recent.add(file)
    assert recent.list() == [files[2], files[4], files[3]]
    files[4].unlink()
    assert recent.list() == [files[2], files[3]]
    (tmp_path / "cfg" / "settings.json").write_text("not json")
    assert recent.list() == []
