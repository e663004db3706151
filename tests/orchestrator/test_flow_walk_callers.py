"""Every reader of nested graphs in the orchestrator walks them as `shared.flow.walk_nodes` does."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.runtime.dispatch import Needs
from orchestrator.services.bundles import called_names
from orchestrator.services.workflow_diff import diff_documents
from shared.flow import GraphShape, validate_document, walk_nodes
from shared.flow._validate import json_path
from shared.steps import StepRegistry
from shared.steps.builtin import BUILTIN_STEPS
from tests.shared.test_flow_walk import branch, nested_flow


def test_every_caller_sees_the_nodes_the_walker_sees() -> None:
    document = nested_flow()
    visits = list(walk_nodes(document))
    assert Needs.of(document).steps == {v.node["type"] for v in visits}  # not the `nodes` variable's "not.a.step"
    assert called_names(document) == ["Child"]
    added = diff_documents({}, document)["nodes"]["added"]
    assert added == [v.node["id"] for v in visits]
    # The validator checks each node where the walker finds it: an expression error in each.
    broken = copy.deepcopy(document)
    for visit in walk_nodes(broken):
        visit.node.setdefault("params", {})["bad"] = "{{ oops( }}"
    paths = {p.path for p in validate_document(broken) if p.code == "expression"}
    assert paths == {json_path((*v.parts, "params", "bad")) for v in walk_nodes(broken)}


def test_a_node_moved_into_a_body_is_one_parent_change() -> None:
    before = nested_flow()
    after = copy.deepcopy(before)
    moved = after["nodes"].pop(2)
    after["nodes"][1]["body"]["nodes"][0]["finally"]["nodes"].append(moved)
    changes = diff_documents(before, after)
    assert changes["nodes"]["added"] == changes["nodes"]["removed"] == []
    assert changes["nodes"]["changed"] == [{"id": "end", "fields": {"parent": {"from": "$", "to": "guard.finally"}}}]


def test_a_container_with_a_new_body_name_is_walked_by_every_caller() -> None:
    shape = GraphShape(StepRegistry([*BUILTIN_STEPS, branch]))
    document: dict[str, Any] = {
        "schema": "rpa.flow/1",
        "name": "B",
        "nodes": [
            {
                "id": "pick",
                "type": "test.branch",
                "then": {"nodes": [{"id": "yes", "type": "flow.call", "params": {"flow": "Yes"}}], "edges": []},
                "otherwise": {"nodes": [{"id": "no", "type": "core.log", "params": {"message": "no"}}]},
            }
        ],
    }
    assert Needs.of(document, shape).steps == {"test.branch", "flow.call", "core.log"}
    assert called_names(document, shape) == ["Yes"]
    after = copy.deepcopy(document)
    after["nodes"][0]["otherwise"]["nodes"][0]["params"]["message"] = "never"
    after["nodes"][0]["then"]["edges"].append({"from": "yes", "to": "yes"})
    changes = diff_documents(document, after, shape)
    assert changes["nodes"]["changed"] == [{"id": "no", "fields": {"params.message": {"from": "no", "to": "never"}}}]
    assert changes["edges"]["added"] == [{"graph": "pick.then", "from": "yes", "port": "out", "to": "yes"}]
