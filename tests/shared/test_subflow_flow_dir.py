"""A sub-flow called with `flow.call` sees its own folder as `context().flow_dir` (where its
assets sit) when the loader knows one; its caller, before and after the call, keeps its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.engine import Engine, FileFlowLoader, MemoryJournal
from shared.flow import Flow, load_flow
from shared.steps import StepRegistry, context, step
from shared.steps.builtin import BUILTIN_STEPS


class ReadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="A file relative to the flow's folder.")


@step("test.read_flow_file", params=ReadParams, output="{text, flow_dir}")
def read_flow_file(params: ReadParams) -> dict[str, Any]:
    """The text of a flow-relative file, and the folder it was looked up in."""
    ctx = context()
    return {"text": ctx.flow_file(params.path).read_text(encoding="utf-8"), "flow_dir": str(ctx.flow_dir)}


REGISTRY = StepRegistry([*BUILTIN_STEPS, read_flow_file])


def document(
    name: str, nodes: list[dict[str, Any]], edges: tuple[tuple[str, str], ...] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
        **extra,
    }


def read(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "test.read_flow_file", "params": {"path": "note.txt"}}


def call(node_id: str, name: str) -> dict[str, Any]:
    return {"id": node_id, "type": "flow.call", "params": {"flow": name}}


class FolderLoader:
    """Sub-flows by name, each with a folder of its own when `folders` names one (as the agent's)."""

    def __init__(self, documents: dict[str, dict[str, Any]], folders: dict[str, Path]) -> None:
        self.documents, self.folders = documents, folders
        self._flows: dict[str, Flow] = {}
        self._folders: dict[int, Path] = {}

    def load(self, reference: str, caller: Flow) -> Flow:
        if reference not in self._flows:
            flow = self._flows[reference] = load_flow(self.documents[reference], registry=REGISTRY)
            if reference in self.folders:
                self._folders[id(flow)] = self.folders[reference]
        return self._flows[reference]

    def folder_of(self, flow: Flow) -> Path | None:
        return self._folders.get(id(flow))


def folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "note.txt").write_text(text, encoding="utf-8")
    return path


async def test_each_sub_flow_reads_its_own_folder_and_the_root_keeps_its_own(tmp_path: Path) -> None:
    root_dir, child_dir = folder(tmp_path / "root", "root's"), folder(tmp_path / "child", "child's")
    documents = {
        "Child": document(
            "Child",
            [read("mine"), call("deeper", "Grandchild")],
            (("mine", "deeper"),),
            outputs={"mine": "{{ steps.mine.output }}", "deeper": "{{ steps.deeper.output }}"},
        ),
        # No folder of its own: it sees its caller's (the child's), not the root's.
        "Grandchild": document("Grandchild", [read("inherited")], outputs={"got": "{{ steps.inherited.output }}"}),
    }
    root = load_flow(
        document(
            "Root",
            [read("before"), call("sub", "Child"), read("after")],
            (("before", "sub"), ("sub", "after")),
            outputs={
                "before": "{{ steps.before.output }}",
                "sub": "{{ steps.sub.output }}",
                "after": "{{ steps.after.output }}",
            },
        ),
        registry=REGISTRY,
    )
    engine = Engine(
        REGISTRY,
        loader=FolderLoader(documents, {"Child": child_dir}),
        flow_dir=root_dir,
        artifacts_dir=tmp_path / "artifacts",
    )

    result = await engine.run(root, journal=MemoryJournal("exec-dirs"))

    assert result.status == "succeeded", result.error
    outputs = result.outputs
    assert outputs["before"] == {"text": "root's", "flow_dir": str(root_dir)}
    assert outputs["sub"]["mine"] == {"text": "child's", "flow_dir": str(child_dir)}
    assert outputs["sub"]["deeper"]["got"] == {"text": "child's", "flow_dir": str(child_dir)}
    assert outputs["after"] == {"text": "root's", "flow_dir": str(root_dir)}


async def test_a_sub_flow_file_reads_the_files_next_to_it(tmp_path: Path) -> None:
    root_dir, lib_dir = folder(tmp_path / "project", "root's"), folder(tmp_path / "project" / "lib", "lib's")
    (lib_dir / "child.json").write_text(
        json.dumps(document("Child", [read("mine")], outputs={"mine": "{{ steps.mine.output }}"})), encoding="utf-8"
    )
    root = load_flow(
        document(
            "Root",
            [call("sub", "lib/child"), read("after")],
            (("sub", "after"),),
            outputs={"sub": "{{ steps.sub.output.mine }}", "after": "{{ steps.after.output }}"},
        ),
        registry=REGISTRY,
    )
    engine = Engine(
        REGISTRY, loader=FileFlowLoader(root_dir, REGISTRY), flow_dir=root_dir, artifacts_dir=tmp_path / "artifacts"
    )

    result = await engine.run(root, journal=MemoryJournal("exec-files"))

    assert result.status == "succeeded", result.error
    assert result.outputs["sub"] == {"text": "lib's", "flow_dir": str(lib_dir)}
    assert result.outputs["after"] == {"text": "root's", "flow_dir": str(root_dir)}
