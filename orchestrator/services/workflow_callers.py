"""Who calls a workflow (`flow.call` by name), and which of its draft's interface changes break them.

A workflow's interface is its inputs (name, type, required, default) and outputs. Publishing a
draft whose interface differs from the latest version's changes it under every caller: the
workflows whose latest published version or draft call this one by name. A change breaks a call
when the sub-flow would refuse or fail it:

- an input removed, that the call passes (`resolve_inputs` refuses an undeclared input);
- an input added as required without a default, or made required, that the call does not pass;
- an input's type changed, that the call passes (a literal value of the new type is still fine);
- an output removed or its declared type changed, that the caller reads (`steps.<node>.output`
  whole, or `.name`).

A call whose `inputs` is an expression (not an object) cannot be read: every input change is
taken to break it. Pure functions (`interface_changes`, `breaks_of`) do the judging; `check`
reads the rows.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.workflows import Workflow, WorkflowVersion
from orchestrator.services.workflows import get_workflow, graph_shape
from shared.expressions import is_template
from shared.flow import GraphShape, value_fits, walk_nodes

__all__ = ["CallSite", "InterfaceChange", "breaks_of", "callers", "check", "interface_changes"]


@dataclass(frozen=True, slots=True)
class InterfaceChange:
    """One change of a workflow's inputs or outputs that can break a caller."""

    kind: str
    """`input_removed`, `input_required_added`, `input_now_required`, `input_type_changed`,
    `output_removed` or `output_type_changed`."""
    name: str
    before: Any = None
    after: Any = None

    @property
    def message(self) -> str:
        """The change in a sentence."""
        return {
            "input_removed": f"input '{self.name}' was removed",
            "input_required_added": f"input '{self.name}' was added as required, with no default",
            "input_now_required": f"input '{self.name}' is now required, with no default",
            "input_type_changed": f"input '{self.name}' changed type from {self.before} to {self.after}",
            "output_removed": f"output '{self.name}' was removed",
            "output_type_changed": f"output '{self.name}' changed type from {self.before} to {self.after}",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class CallSite:
    """A `flow.call` node of a caller naming the workflow: where (`draft` or a version) and what it passes."""

    ref: str
    node: str
    inputs: dict[str, Any] | None
    """The inputs object the call passes; None when it is an expression."""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _required(spec: dict[str, Any]) -> bool:
    return spec.get("required") is True and spec.get("default") is None


def _output_type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else None


def interface_changes(published: Any, draft: Any) -> list[InterfaceChange]:
    """The interface changes from `published` (the latest version's document; None when never
    published: nothing can break) to `draft` that can break a caller."""
    if not isinstance(published, dict):
        return []
    draft = _object(draft)
    return [
        *_input_changes(_object(published.get("inputs")), _object(draft.get("inputs"))),
        *_output_changes(_object(published.get("outputs")), _object(draft.get("outputs"))),
    ]


def _input_changes(before: dict[str, Any], after: dict[str, Any]) -> list[InterfaceChange]:
    changes: list[InterfaceChange] = []
    for name, spec in before.items():
        if name not in after:
            changes.append(InterfaceChange("input_removed", name))
            continue
        old, new = _object(spec), _object(after[name])
        old_type, new_type = old.get("type", "any"), new.get("type", "any")
        if old_type != new_type and new_type != "any":
            changes.append(InterfaceChange("input_type_changed", name, old_type, new_type))
        if _required(new) and not _required(old):
            changes.append(InterfaceChange("input_now_required", name))
    changes += [
        InterfaceChange("input_required_added", name)
        for name, spec in after.items()
        if name not in before and _required(_object(spec))
    ]
    return changes


def _output_changes(before: dict[str, Any], after: dict[str, Any]) -> list[InterfaceChange]:
    changes: list[InterfaceChange] = []
    for name, value in before.items():
        if name not in after:
            changes.append(InterfaceChange("output_removed", name))
        elif _output_type(value) is not None and _output_type(value) != _output_type(after[name]):
            changes.append(InterfaceChange("output_type_changed", name, _output_type(value), _output_type(after[name])))
    return changes


def _fits(value: Any, type_name: Any) -> bool:
    """A literal value the new type accepts (an expression's value is not known here)."""
    if isinstance(value, str) and is_template(value):
        return False
    return value_fits(value, str(type_name))


def _reads_output(document: Any, node: str, name: str) -> bool:
    """Whether a caller's text reads `steps.<node>.output` whole or its `name` (not another output)."""
    text = repr(document)
    for match in re.finditer(rf"steps\.{re.escape(node)}\.output\b(\.(\w+)|\[)?", text):
        field, bracket = match.group(2), match.group(1)
        if bracket is None or bracket == "[" or field == name:
            return True
    return False


def _breaks(change: InterfaceChange, site: CallSite, document: Any) -> bool:
    if change.kind.startswith("output_"):
        return _reads_output(document, site.node, change.name)
    if site.inputs is None:
        return True
    passed = change.name in site.inputs
    if change.kind == "input_removed":
        return passed
    if change.kind == "input_type_changed":
        return passed and not _fits(site.inputs[change.name], change.after)
    return not passed  # input_required_added, input_now_required


def breaks_of(changes: list[InterfaceChange], site: CallSite, document: Any) -> list[InterfaceChange]:
    """The changes that break this call site of a caller whose document is `document`."""
    return [change for change in changes if _breaks(change, site, document)]


def call_sites(document: Any, name: str, ref: str, shape: GraphShape) -> list[CallSite]:
    """The `flow.call` nodes of `document` that call `name`."""
    sites = []
    for visit in walk_nodes(document, shape):
        params = visit.node.get("params")
        if visit.node.get("type") != "flow.call" or not isinstance(params, dict):
            continue
        target = params.get("flow")
        if isinstance(target, str) and target.strip() == name:
            inputs = params.get("inputs", {})
            sites.append(CallSite(ref, str(visit.node.get("id")), inputs if isinstance(inputs, dict) else None))
    return sites


async def callers(
    session: AsyncSession, org_id: uuid.UUID, name: str, *, exclude: uuid.UUID | None = None
) -> list[tuple[Workflow, list[tuple[CallSite, dict[str, Any]]]]]:
    """The live workflows whose draft or latest version call `name`, each with its call sites
    (and the document each is in), by workflow name."""
    # Columns, not the version entity: its eagerly joined `workflow` (an inner join) would drop
    # the workflows never published.
    rows = await session.execute(
        select(Workflow, WorkflowVersion.number, WorkflowVersion.document)
        .outerjoin(
            WorkflowVersion,
            and_(WorkflowVersion.workflow_id == Workflow.id, WorkflowVersion.number == Workflow.latest_version),
        )
        .where(Workflow.org_id == org_id, Workflow.deleted_at.is_(None))
        .order_by(Workflow.name)
    )
    shape = graph_shape()
    found = []
    for workflow, number, published in rows.all():
        if workflow.id == exclude:
            continue
        documents = [("draft", workflow.draft)]
        if number is not None:
            documents.insert(0, (str(number), published))
        sites = [(site, doc) for ref, doc in documents for site in call_sites(doc, name, ref, shape)]
        if sites:
            found.append((workflow, sites))
    return found


async def check(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID) -> dict[str, Any]:
    """The publish check of a workflow's draft: its interface changes against the latest version,
    and every caller with the changes that break each of its calls."""
    workflow = await get_workflow(session, org_id, workflow_id)
    published = None
    if workflow.latest_version is not None:
        published = await session.scalar(
            select(WorkflowVersion.document).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number == workflow.latest_version
            )
        )
    changes = interface_changes(published, workflow.draft)
    listed = []
    for caller, sites in await callers(session, org_id, workflow.name, exclude=workflow.id):
        breaks = [
            {"ref": site.ref, "node": site.node, "kind": change.kind, "name": change.name, "message": change.message}
            for site, document in sites
            for change in breaks_of(changes, site, document)
        ]
        listed.append(
            {
                "workflow_id": caller.id,
                "name": caller.name,
                "calls": [{"ref": site.ref, "node": site.node} for site, _ in sites],
                "breaks": breaks,
            }
        )
    return {
        "workflow_id": workflow.id,
        "name": workflow.name,
        "published_version": workflow.latest_version,
        "changes": [
            {"kind": c.kind, "name": c.name, "before": c.before, "after": c.after, "message": c.message}
            for c in changes
        ],
        "callers": listed,
        "breaking": any(caller["breaks"] for caller in listed),
    }
