"""Export and import workflows as a JSON bundle (`"bundle": "rpa.bundle/1"`).

A bundle carries a workflow, every workflow it calls through `flow.call` nodes whose `flow`
param names another workflow of the organisation (recursively, in the draft and in every
version), and for each: name, description, category, tags, draft and versions (number,
document, note, source version, publication time). It never carries secret values: flows name
secrets only through `{{ secrets.<name> }}` expressions, and nothing from the credentials
store is read here. Import keeps version numbers and documents, so exporting again from the
importing orchestrator gives the same bundle (but for `exported_at`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Invalid
from orchestrator.models.triggers import Trigger
from orchestrator.models.workflows import Workflow, WorkflowVersion
from orchestrator.services import workflow_assets
from orchestrator.services.audit import Actor, record
from orchestrator.services.credential_access import WorkflowScope, check_use, uses_of
from orchestrator.services.workflows import (
    delete_workflow,
    get_workflow,
    graph_shape,
    name_taken,
    prepare_draft,
    set_tags,
)
from shared.expressions import is_template
from shared.flow import GraphShape, walk_nodes

BUNDLE_TAG = "rpa.bundle/1"

OnConflict = Literal["fail", "rename", "replace"]


def _call_nodes(document: Any, shape: GraphShape | None = None) -> Iterator[dict[str, Any]]:
    """Every `flow.call` node of a document, nested graphs included."""
    for visit in walk_nodes(document, shape or graph_shape()):
        if visit.node.get("type") == "flow.call" and isinstance(visit.node.get("params"), dict):
            yield visit.node


def called_names(document: Any, shape: GraphShape | None = None) -> list[str]:
    """Names a document's `flow.call` nodes call (a templated name cannot be followed).

    Args:
        document: a flow document, valid or not.
        shape: where containers hold nested graphs (default: the catalogue's, `graph_shape()`).
    """
    names = []
    for node in _call_nodes(document, shape):
        target = node["params"].get("flow")
        if isinstance(target, str) and target.strip() and not is_template(target):
            names.append(target.strip())
    return list(dict.fromkeys(names))


async def _versions(session: AsyncSession, workflow: Workflow) -> list[WorkflowVersion]:
    rows = await session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.org_id == workflow.org_id, WorkflowVersion.workflow_id == workflow.id)
        .order_by(WorkflowVersion.number)
    )
    return list(rows.all())


async def export_bundle(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID) -> dict[str, Any]:
    """The bundle of a workflow and the sub-flows it calls (the root first, then in discovery order)."""
    root = await get_workflow(session, org_id, workflow_id)
    entries: list[dict[str, Any]] = []
    seen: set[uuid.UUID] = set()
    queue: list[Workflow] = [root]
    while queue:
        workflow = queue.pop(0)
        if workflow.id in seen:
            continue
        seen.add(workflow.id)
        versions = await _versions(session, workflow)
        entries.append(
            {
                "name": workflow.name,
                "description": workflow.description,
                "category": workflow.category,
                "sla_seconds": workflow.sla_seconds,
                "tags": list(workflow.tags),
                "draft": copy.deepcopy(workflow.draft),
                "versions": [
                    {
                        "number": v.number,
                        "document": copy.deepcopy(v.document),
                        "note": v.note,
                        "source_version": v.source_version,
                        "published_at": v.created_at,
                        "assets": dict(v.assets or {}),
                    }
                    for v in versions
                ],
                **await _assets_of(session, workflow, versions),
                "triggers": await _triggers_of(session, workflow),
            }
        )
        names: list[str] = []
        for document in (workflow.draft, *(v.document for v in versions)):
            names.extend(n for n in called_names(document) if n not in names)
        if names:
            called = await session.scalars(
                select(Workflow).where(
                    Workflow.org_id == org_id, Workflow.deleted_at.is_(None), Workflow.name.in_(names)
                )
            )
            by_name = {w.name: w for w in called.all()}
            queue.extend(by_name[n] for n in names if n in by_name and by_name[n].id not in seen)
    return {"bundle": BUNDLE_TAG, "exported_at": utcnow(), "root": root.name, "workflows": entries}


async def _triggers_of(session: AsyncSession, workflow: Workflow) -> list[dict[str, Any]]:
    """The workflow's triggers, portable: a chain names the workflow it follows by name."""
    rows = list(
        await session.scalars(
            select(Trigger).where(Trigger.org_id == workflow.org_id, Trigger.workflow_id == workflow.id)
        )
    )
    exported = []
    for row in rows:
        config = copy.deepcopy(row.config)
        if row.kind == "chain" and "after_workflow" in config:
            upstream = await session.get(Workflow, uuid.UUID(str(config.pop("after_workflow"))))
            config["after_workflow_name"] = upstream.name if upstream is not None else None
        exported.append(
            {
                "kind": row.kind,
                "name": row.name,
                "config": config,
                "inputs": copy.deepcopy(row.inputs),
                "version": row.version,
                "enabled": row.enabled,
            }
        )
    return exported


async def _import_triggers(
    session: AsyncSession, org_id: uuid.UUID, actor: Actor, workflow: Workflow, triggers: list[dict[str, Any]]
) -> None:
    """Re-create exported triggers, paused (a schedule or source starts only once someone resumes
    it; a webhook gets its URL from `rekey`). A chain to a workflow not in the organisation is left out."""
    for entry in triggers:
        config = copy.deepcopy(entry.get("config") or {})
        if entry["kind"] == "chain":
            upstream = await name_taken(session, org_id, str(config.pop("after_workflow_name", "") or ""))
            if upstream is None:
                continue
            config["after_workflow"] = str(upstream)
        session.add(
            Trigger(
                org_id=org_id,
                workflow_id=workflow.id,
                kind=entry["kind"],
                name=entry["name"],
                config=config,
                inputs=copy.deepcopy(entry.get("inputs") or {}),
                version=entry.get("version"),
                enabled=False,
                created_by=actor.id,
                updated_by=actor.id,
                fire_count=0,
                refused_count=0,
                status="",
                cursor={},
            )
        )
    await session.flush()


async def _assets_of(session: AsyncSession, workflow: Workflow, versions: list[WorkflowVersion]) -> dict[str, Any]:
    """The draft's asset map and the contents of every file the draft and the versions name."""
    draft = await workflow_assets.asset_map_at(session, workflow.org_id, workflow.id, "draft")
    hashes = {*draft.values(), *(sha for v in versions for sha in (v.assets or {}).values())}
    return {"assets": draft, "contents": await workflow_assets.export_assets(session, workflow, hashes)}


def _renamed_calls(document: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """A copy whose `flow.call` nodes call the renamed workflows by their new names."""
    document = copy.deepcopy(document)
    for node in _call_nodes(document):
        target = node["params"].get("flow")
        if isinstance(target, str) and target.strip() in renames:
            node["params"]["flow"] = renames[target.strip()]
    return document


async def _free_name(session: AsyncSession, org_id: uuid.UUID, name: str, reserved: set[str]) -> str:
    n = 2
    while True:
        candidate = f"{name} ({n})"
        if len(candidate) > 200:
            candidate = f"{name[: 200 - len(candidate)]} ({n})"
        if candidate not in reserved and not await name_taken(session, org_id, candidate):
            return candidate
        n += 1


async def import_bundle(
    session: AsyncSession,
    org_id: uuid.UUID,
    actor: Actor,
    bundle: dict[str, Any],
    *,
    on_conflict: OnConflict = "fail",
    role: str | None = None,
) -> list[dict[str, Any]]:
    """Create the bundle's workflows with their versions; returns what was created. Published
    versions that read a credential `role` (the importer's) or the workflow may not use are
    refused as a publish would be (`credential_access.check_use`).

    A name already used in the organisation is a conflict (409 listing every such name), unless
    `on_conflict` is `rename` (the imported workflow becomes "Name (2)", and the bundle's calls
    to it follow the new name) or `replace` (the existing workflow is deleted first).
    """
    workflows: list[dict[str, Any]] = bundle["workflows"]
    names = [w["name"] for w in workflows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(
            f"workflows: the bundle holds several workflows named {', '.join(map(repr, duplicates))}",
            details={"names": duplicates},
        )
    for index, entry in enumerate(workflows):
        numbers = [v["number"] for v in entry["versions"]]
        if len(set(numbers)) != len(numbers):
            raise Invalid(
                f"workflows[{index}].versions: version numbers repeat in '{entry['name']}'",
                details={"workflow": entry["name"]},
            )
    existing = {n: found for n in names if (found := await name_taken(session, org_id, n))}
    if existing and on_conflict == "fail":
        raise Conflict(
            f"workflows named {', '.join(map(repr, existing))} already exist; import again with "
            "on_conflict=rename or on_conflict=replace",
            code="name_taken",
            details={"names": list(existing)},
        )
    renames: dict[str, str] = {}
    replaced: dict[str, uuid.UUID] = {}
    reserved = set(names)
    for name, workflow_id in existing.items():
        if on_conflict == "rename":
            renames[name] = await _free_name(session, org_id, name, reserved)
            reserved.add(renames[name])
        else:
            await delete_workflow(session, org_id, workflow_id, actor, action="workflow.delete")
            replaced[name] = workflow_id
    created = []
    for entry in workflows:
        created.append(
            await _create_from(session, org_id, actor, entry, renames, replaced.get(entry["name"]), on_conflict, role)
        )
    return created


async def _create_from(
    session: AsyncSession,
    org_id: uuid.UUID,
    actor: Actor,
    entry: dict[str, Any],
    renames: dict[str, str],
    replaced_id: uuid.UUID | None,
    on_conflict: str,
    role: str | None,
) -> dict[str, Any]:
    source_name = entry["name"]
    name = renames.get(source_name, source_name)

    def adapt(document: dict[str, Any]) -> dict[str, Any]:
        adapted = _renamed_calls(document, renames) if renames else copy.deepcopy(document)
        if adapted.get("name") == source_name:
            adapted["name"] = name
        return adapted

    versions = sorted(entry["versions"], key=lambda v: v["number"])
    workflow = Workflow(
        org_id=org_id,
        name=name,
        description=entry["description"],
        category=entry["category"],
        sla_seconds=entry.get("sla_seconds"),
        tags=[],
        draft=prepare_draft(adapt(entry["draft"]), name),
        draft_revision=1,
        latest_version=versions[-1]["number"] if versions else None,
        created_by=actor.id,
    )
    session.add(workflow)
    await session.flush()
    await set_tags(session, workflow, entry["tags"])
    # Exports older than assets hold neither map nor contents: they import with no files.
    draft_assets = dict(entry.get("assets") or {})
    await workflow_assets.import_assets(
        session,
        workflow,
        entry.get("contents") or {},
        [draft_assets, *(v.get("assets") or {} for v in versions)],
    )
    await workflow_assets.set_draft_assets(session, workflow, draft_assets)
    for version in versions:
        await check_use(
            session,
            org_id,
            uses_of(version["document"]),
            role=role,
            workflow=WorkflowScope.of(workflow),
            doing=f"import version {version['number']} of '{name}'",
        )
        session.add(
            WorkflowVersion(
                org_id=org_id,
                workflow_id=workflow.id,
                workflow=workflow,
                number=version["number"],
                document=adapt(version["document"]),
                note=version["note"],
                source_version=version["source_version"],
                assets=dict(version.get("assets") or {}),
                created_by=actor.id,
                created_at=version["published_at"] or utcnow(),
            )
        )
    await session.flush()
    await _import_triggers(session, org_id, actor, workflow, list(entry.get("triggers") or []))
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="workflow.import",
        target_type="workflow",
        target_id=workflow.id,
        summary={
            "name": name,
            "source_name": source_name,
            "versions": len(versions),
            "on_conflict": on_conflict,
            "replaced_id": str(replaced_id) if replaced_id else None,
        },
    )
    return {
        "id": workflow.id,
        "name": name,
        "source_name": source_name,
        "latest_version": workflow.latest_version,
        "replaced_id": replaced_id,
    }
