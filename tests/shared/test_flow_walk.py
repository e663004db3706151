"""The one walk over a flow's nested graphs (`shared.flow.walk_nodes` / `walk_graphs`)."""

from __future__ import annotations

from typing import Any

from shared.flow import TOP_GRAPH, Flow, GraphShape, Node, walk_graphs, walk_nodes
from shared.steps import NoParams, StepRegistry, step
from shared.steps.builtin import BUILTIN_STEPS


def nested_flow() -> dict[str, Any]:
    """A loop holding a try whose three bodies hold a loop, a call and a log; a variable named
    `nodes` whose value looks like a graph (it is data, not a body)."""
    return {
        "schema": "rpa.flow/1",
        "name": "Nested",
        "nodes": [
            {"id": "start", "type": "core.noop", "set": {"nodes": [{"id": "fake", "type": "not.a.step"}]}},
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": "{{ [1, 2] }}"},
                "body": {
                    "nodes": [
                        {
                            "id": "guard",
                            "type": "control.try",
                            "body": {
                                "nodes": [
                                    {
                                        "id": "inner",
                                        "type": "control.while",
                                        "params": {"condition": "{{ false }}"},
                                        "body": {
                                            "nodes": [
                                                {"id": "deep", "type": "data.template", "params": {"template": "x"}}
                                            ]
                                        },
                                    },
                                ]
                            },
                            "catch": {"nodes": [{"id": "sub", "type": "flow.call", "params": {"flow": "Child"}}]},
                            "finally": {
                                "nodes": [{"id": "note", "type": "core.log", "params": {"message": "done"}}],
                                "edges": [],
                            },
                        },
                    ]
                },
            },
            {"id": "end", "type": "core.noop"},
        ],
        "edges": [{"from": "start", "to": "each"}, {"from": "each", "to": "end"}],
    }


NESTED_IDS = ["start", "each", "guard", "inner", "deep", "sub", "note", "end"]


def test_nodes_come_in_document_order_with_their_graph() -> None:
    visits = list(walk_nodes(nested_flow()))
    assert [v.node["id"] for v in visits] == NESTED_IDS
    assert {v.node["id"]: v.graph.label for v in visits} == {
        "start": TOP_GRAPH,
        "each": TOP_GRAPH,
        "end": TOP_GRAPH,
        "guard": "each.body",
        "inner": "guard.body",
        "deep": "inner.body",
        "sub": "guard.catch",
        "note": "guard.finally",
    }
    deep = visits[NESTED_IDS.index("deep")]
    assert deep.parts == ("nodes", 1, "body", "nodes", 0, "body", "nodes", 0, "body", "nodes", 0)


def test_graphs_come_top_first_each_before_what_it_holds() -> None:
    labels = [g.label for g in walk_graphs(nested_flow())]
    assert labels == [TOP_GRAPH, "each.body", "guard.body", "inner.body", "guard.catch", "guard.finally"]


def test_the_typed_model_holds_the_same_graphs() -> None:
    def ids(nodes: list[Node]) -> list[str]:
        out: list[str] = []
        for node in nodes:
            out.append(node.id)
            for graph in node.graphs().values():
                out += ids(graph.nodes)
        return out

    assert ids(Flow.model_validate(nested_flow()).nodes) == NESTED_IDS


@step("test.branch", params=NoParams, kind="container", bodies=("then", "otherwise"))
def branch(_: NoParams) -> None:
    """A container declaring body names no built-in step uses."""


def test_a_new_body_name_is_walked_from_its_declaration() -> None:
    document = {
        "schema": "rpa.flow/1",
        "name": "B",
        "nodes": [
            {
                "id": "pick",
                "type": "test.branch",
                "then": {"nodes": [{"id": "yes", "type": "core.log"}]},
                "otherwise": {"nodes": [{"id": "no", "type": "core.noop"}]},
            }
        ],
    }
    shape = GraphShape(StepRegistry([*BUILTIN_STEPS, branch]))
    assert "then" in shape.body_names
    assert [(v.node["id"], v.graph.label) for v in walk_nodes(document, shape)] == [
        ("pick", TOP_GRAPH),
        ("yes", "pick.then"),
        ("no", "pick.otherwise"),
    ]
    # Without the declaration these are plain fields, not graphs.
    assert [v.node["id"] for v in walk_nodes(document, GraphShape(StepRegistry(BUILTIN_STEPS)))] == ["pick"]


def test_a_declared_body_is_walked_only_under_the_container_declaring_it() -> None:
    document = {
        "nodes": [
            {
                "id": "loop",
                "type": "control.foreach",
                "body": {"nodes": [{"id": "a", "type": "core.noop"}]},
                "catch": {"nodes": [{"id": "b", "type": "core.noop"}]},
            }
        ]
    }
    assert [v.node["id"] for v in walk_nodes(document)] == ["loop", "a"]


def test_an_unknown_type_is_searched_under_every_body_name() -> None:
    document = {
        "nodes": [{"id": "x", "type": "plugin.container", "catch": {"nodes": [{"id": "y", "type": "plugin.step"}]}}]
    }
    assert [v.node["id"] for v in walk_nodes(document)] == ["x", "y"]


def test_a_broken_draft_is_walked_as_far_as_it_goes() -> None:
    document = {
        "nodes": [
            None,
            "x",
            {"type": "core.noop"},
            {"id": "c", "type": "control.foreach", "body": []},
            {"id": "d", "type": "control.while", "body": {"nodes": "no"}},
        ]
    }
    assert [v.node.get("id") for v in walk_nodes(document)] == [None, "c", "d"]
    assert [g.label for g in walk_graphs(document)] == [TOP_GRAPH, "d.body"]
    assert list(walk_nodes(["not", "a", "document"])) == []
    assert list(walk_graphs(None)) == []


def test_a_deeply_nested_draft_does_not_exhaust_the_stack() -> None:
    document: dict[str, Any] = {"nodes": []}
    graph = document
    for depth in range(3000):
        node = {"id": f"n{depth}", "type": "control.foreach", "body": {"nodes": []}}
        graph["nodes"].append(node)
        graph = node["body"]
    shape = GraphShape()
    assert sum(1 for _ in walk_nodes(document, shape)) == 3000
    assert sum(1 for _ in walk_graphs(document, shape)) == 3001
