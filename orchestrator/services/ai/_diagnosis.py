"""Failure diagnosis: why an execution failed, and a change to its flow as an RFC 6902 JSON Patch.

What is sent comes from what the orchestrator stored: the version's flow document (credential
NAMES only, never values), the failed node and its params as that document has them, the
execution's error and the journal events before the failure, as the agent sent them (the agent
masks secret values before an event leaves it). The vault is never read here. Everything is
passed through the log masker once more (`mask_value`), so a value this process has revealed or
that looks like a credential does not reach the model even if an event carried it.

The answer must be `{"explanation": str, "patch": [operations]}`; the patch must apply to the
version's flow and the result must validate, else the problems are fed back (`ask_until_valid`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import Conflict
from orchestrator.logging import mask_value
from orchestrator.services.ai._loop import Outcome, ask_until_valid
from orchestrator.services.ai._model import ModelClient
from orchestrator.services.workflows import graph_shape, problems_of
from shared.flow import walk_nodes

JOURNAL_EVENTS = 40
"""Events sent from the journal: the failure and those just before it."""
MAX_STRING = 2000
"""Longer strings in the context are cut (an output table, a page's HTML)."""

_INDEX = re.compile(r"\[\d+\]$")


@dataclass(frozen=True)
class Failure:
    """The failed node of an execution, as the stored journal and flow tell it."""

    path: str
    node_id: str
    pointer: str | None
    node: dict[str, Any] | None
    error: Any


@dataclass(frozen=True)
class Diagnosis:
    """An explanation, a patch that applies and validates, and the flow it gives."""

    explanation: str
    patch: list[dict[str, Any]]
    flow: dict[str, Any]


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING:
        return value[:MAX_STRING] + f"... ({len(value) - MAX_STRING} more characters)"
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value[:50]] + ([f"... ({len(value) - 50} more items)"] if len(value) > 50 else [])
    return value


def _node_at(document: dict[str, Any], node_id: str) -> tuple[str | None, dict[str, Any] | None]:
    for visit in walk_nodes(document, graph_shape()):
        if visit.node.get("id") == node_id:
            return "/" + "/".join(str(part) for part in visit.parts), visit.node
    return None, None


def find_failure(document: dict[str, Any], events: Sequence[Any], execution_error: Any) -> Failure:
    """The last failure of the journal (`node.failed` events; one that would be retried only when
    no final one exists), located in the flow.

    Raises:
        Conflict: (code `no_failed_node`) the journal holds no failed node.
    """
    failed = [e for e in events if e.type == "node.failed"]
    final = [e for e in failed if not (e.data or {}).get("will_retry")]
    if not failed:
        raise Conflict("the execution's journal holds no failed node to diagnose", code="no_failed_node")
    event = (final or failed)[-1]
    node_id = _INDEX.sub("", event.path.rsplit("/", 1)[-1])
    pointer, node = _node_at(document, node_id)
    return Failure(event.path, node_id, pointer, node, (event.data or {}).get("error") or execution_error)


def _journal(events: Sequence[Any], failure_path: str) -> list[dict[str, Any]]:
    last = max((i for i, e in enumerate(events) if e.type == "node.failed" and e.path == failure_path), default=-1)
    kept = events[max(0, last + 1 - JOURNAL_EVENTS) : last + 1]
    return [{"seq": e.seq, "type": e.type, "path": e.path, "data": _cut(e.data or {})} for e in kept]


def diagnosis_context(document: dict[str, Any], events: Sequence[Any], execution_error: Any) -> dict[str, Any]:
    """Everything the model is told about a failed execution, masked."""
    failure = find_failure(document, events, execution_error)
    context = {
        "failed_node": {
            "path": failure.path,
            "id": failure.node_id,
            "json_pointer": failure.pointer,
            "type": (failure.node or {}).get("type"),
            "params": (failure.node or {}).get("params", {}),
        },
        "error": failure.error,
        "execution_error": execution_error,
        "journal": _journal(events, failure.path),
        "flow": document,
    }
    masked: dict[str, Any] = mask_value(_cut(context))
    return masked


SYSTEM = (
    "You diagnose failed runs of automation flows of an RPA suite. You get the flow (JSON), the "
    "failed node (with its JSON Pointer in the flow), its error and the journal events before the "
    "failure; secret values are masked as ***. Answer with one JSON object only: "
    '{"explanation": "<why it failed, for the flow\'s author>", "patch": [<RFC 6902 JSON Patch '
    "operations on the flow document>]}. The patch must apply to the flow as given and leave a "
    "valid flow; use an empty patch when the flow itself is not at fault (say so). Never put a "
    "secret value in the patch; refer to credentials by name."
)


def _checker(flow: dict[str, Any]) -> Any:
    import jsonpatch
    import jsonpointer

    def check(value: Any) -> tuple[Diagnosis | None, list[dict[str, Any]]]:
        if not isinstance(value, dict) or not isinstance(value.get("explanation"), str):
            return None, [
                {"path": "$", "message": "the answer must be an object with an 'explanation' string", "code": "answer"}
            ]
        patch = value.get("patch")
        if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
            return None, [
                {"path": "$.patch", "message": "'patch' must be a list of JSON Patch operations", "code": "patch"}
            ]
        try:
            patched = jsonpatch.apply_patch(copy.deepcopy(flow), patch)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            return None, [
                {"path": "$.patch", "message": f"the patch does not apply to the flow: {exc}", "code": "patch"}
            ]
        problems = problems_of(patched)
        if problems:
            return None, [{**p, "message": f"after the patch: {p['message']}"} for p in problems]
        return Diagnosis(value["explanation"], patch, patched), []

    return check


async def diagnose(
    model: ModelClient,
    flow: dict[str, Any],
    events: Sequence[Any],
    execution_error: Any,
    *,
    max_attempts: int = 3,
    outcome: Outcome[Diagnosis] | None = None,
) -> Outcome[Diagnosis]:
    """Ask `model` why the run of `flow` failed (from its stored `events`) and for a patch
    (`outcome`, when given, is filled as answers arrive, as in `ask_until_valid`).

    Raises:
        Conflict: the journal holds no failed node.
    """
    context = diagnosis_context(flow, events, execution_error)
    prompt = "Diagnose this failed run:\n" + json.dumps(context, indent=1, default=str)
    return await ask_until_valid(model, SYSTEM, prompt, _checker(flow), max_attempts=max_attempts, outcome=outcome)
