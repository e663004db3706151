"""Random sequences of edits: undoing them all gives back the exact text, redoing them all gives
the same result again, and the index always agrees with a fresh one."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from shared.steps import StepRegistry
from studio.model import CommandError, FlowDocument
from studio.model._index import NodeIndex

from .conftest import SAMPLE


def _random_edit(rng: random.Random, doc: FlowDocument) -> tuple[str, dict[str, Any]]:
    ids = sorted(doc.index.nodes)
    some = rng.sample(ids, k=min(len(ids), rng.randint(1, 3))) if ids else []
    one = rng.choice(ids) if ids else "none"
    graphs = sorted(doc.index.graphs)
    choices: list[tuple[str, dict[str, Any]]] = [
        ("add_node", {"type": rng.choice(["core.noop", "core.log", "control.try"]), "graph": rng.choice(graphs)}),
        ("remove_nodes", {"ids": some}),
        ("move_nodes", {"ids": some, "dx": rng.randint(-50, 50), "dy": 10}),
        ("connect", {"source": one, "target": rng.choice(ids) if ids else "none"}),
        ("set_param", {"node": one, "name": "value", "value": rng.randint(0, 9)}),
        ("set_node_settings", {"node": one, "name": f"label {rng.randint(0, 9)}", "disabled": rng.random() < 0.5}),
        ("reparent", {"ids": some[:1], "graph": rng.choice(graphs)}),
        ("paste", {"clipboard": doc.copy(some) if some else "{}", "graph": rng.choice(graphs)}),
        ("duplicate", {"ids": some[:1]}),
        ("rename_entry", {"section": "variables", "old": rng.choice(["count", "tries"]), "new": "tries"}),
        ("auto_layout", {}),
        ("align", {"ids": some, "edge": rng.choice(["left", "top", "hcenter"])}),
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("seed", range(25))
def test_random_edits_undo_and_redo_exactly(seed: int, registry: StepRegistry) -> None:
    rng = random.Random(seed)
    doc = FlowDocument(copy.deepcopy(SAMPLE), registry=registry)
    texts = [doc.to_text()]
    for _ in range(20):
        kind, args = _random_edit(rng, doc)
        try:
            doc.execute(kind, **args)
        except CommandError:
            assert doc.to_text() == texts[-1]  # a refused edit changes nothing
            continue
        doc.seal()
        if doc.to_text() != texts[-1]:
            texts.append(doc.to_text())
        fresh = NodeIndex(doc.raw, doc.shape)
        assert [(r.id, r.parts, r.graph_label) for r in fresh.refs] == [
            (r.id, r.parts, r.graph_label) for r in doc.index.refs
        ]
        assert {k: r.parts for k, r in fresh.nodes.items()} == {k: r.parts for k, r in doc.index.nodes.items()}
    while doc.undo():
        fresh = NodeIndex(doc.raw, doc.shape)
        assert [r.parts for r in fresh.refs] == [r.parts for r in doc.index.refs]
    assert doc.to_text() == texts[0]
    assert not doc.dirty
    while doc.redo():
        pass
    assert doc.to_text() == texts[-1]
