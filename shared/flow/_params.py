"""The validated params model of a node whose params hold no expression, kept with the node.

Such params render to themselves, so they validate to the same model every time. `load_flow`
keeps the model its own check built, and the engine keeps the one it builds when a node first
runs, so a node of a loaded flow is validated once for as long as the flow object lives: every
execution, loop iteration and retry of it gets that one model (steps treat params as
read-only, `shared/CONTRACTS.md`). An engine that runs a flow built another way (the agent
validates the job's document with `Flow.model_validate`) pays the validation once per node and
flow object, at the node's first run. So a params model's validators and defaults must depend
on the params alone, not on the clock or the machine (the built-in steps' do): the model may be
built when the flow is loaded, long before the node runs.

`Node` is a pydantic model: not hashable, and a private attribute would take part in `==`.
The table is keyed by the node's identity instead, with a weak reference that drops the entry
when the node is freed, so a new node given a freed node's id never finds the old model.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.flow._model import Node

_Entry = tuple["weakref.ReferenceType[Node]", type, Any]

_KEPT: dict[int, _Entry] = {}
"""id(node) -> (a weak reference to the node, the params model class, the validated model)."""


def kept_params(node: Node, params_type: type) -> Any | None:
    """The model kept for `node`'s params as `params_type` validated them, or None."""
    entry = _KEPT.get(id(node))
    if entry is None or entry[1] is not params_type or entry[0]() is not node:
        return None
    return entry[2]


def keep_params(node: Node, params_type: type, model: Any) -> None:
    """Keep `model`, `params_type`'s validation of `node.params`, which hold no expression.

    The caller vouches that `model` is what `params_type.model_validate(node.params)` returns.
    """
    key = id(node)

    def forget(ref: weakref.ReferenceType[Node], key: int = key) -> None:
        entry = _KEPT.get(key)
        if entry is not None and entry[0] is ref:
            _KEPT.pop(key, None)

    _KEPT[key] = (weakref.ref(node, forget), params_type, model)
