"""`client.workflows`: drafts, versions, diff, clone, export and import.

Writes take the `etag` of the workflow as it was read (`Workflow.etag`): when someone saved or
published since, the orchestrator refuses with 412 and the client raises `StaleRevision`, so a
save never overwrites another designer's work unseen.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Literal

from shared.client._base import Resource, drop_none, every, page_of
from shared.client._models import (
    ImportedWorkflow,
    Page,
    TagCount,
    ValidationReport,
    Version,
    VersionSummary,
    Workflow,
    WorkflowDiff,
    WorkflowSaved,
    WorkflowSummary,
)

VersionRef = int | Literal["draft"]


def _if_match(etag: str | None) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


class WorkflowsApi(Resource):
    """The organisation's workflows (`/workflows`)."""

    def list(
        self,
        *,
        q: str | None = None,
        tags: Sequence[str] = (),
        category: str | None = None,
        has_published: bool | None = None,
        sort: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[WorkflowSummary]:
        """A page of workflows: `q` in the name or description, carrying all of `tags`, in `category`.

        `sort` is a field (`name`, `created_at`, `updated_at`), with a leading `-` for descending
        (default `-updated_at`).
        """
        params = drop_none(q=q or None, category=category, has_published=has_published, sort=sort)
        params |= {"tag": list(tags), "limit": limit, "offset": offset}
        return page_of(WorkflowSummary, self._client.request("GET", "/workflows", params=params))

    def tags(self) -> builtins.list[TagCount]:
        """Every tag in use, with how many workflows carry it."""
        return every(lambda at: page_of(TagCount, self._client.request("GET", "/workflows/tags", params=_at(at))))

    def categories(self) -> builtins.list[TagCount]:
        """Every category in use, with how many workflows are in it."""
        path = "/workflows/categories"
        return every(lambda at: page_of(TagCount, self._client.request("GET", path, params=_at(at))))

    def get(self, workflow_id: str) -> Workflow:
        """A workflow with its draft."""
        return Workflow.model_validate(self._client.request("GET", f"/workflows/{workflow_id}"))

    def create(
        self,
        name: str,
        document: dict[str, Any] | None = None,
        *,
        description: str = "",
        category: str | None = None,
        tags: Sequence[str] = (),
    ) -> WorkflowSaved:
        """A new workflow whose draft is `document` (saved even when invalid: see `.problems`)."""
        body = drop_none(name=name, description=description, category=category, document=document)
        body["tags"] = list(tags)
        return WorkflowSaved.model_validate(self._client.request("POST", "/workflows", json=body))

    def save_draft(self, workflow_id: str, document: dict[str, Any], *, etag: str | None) -> WorkflowSaved:
        """Replace the draft with `document`, if the workflow is still at `etag` (None: whatever it is).

        Raises:
            StaleRevision: the workflow changed since `etag` was read (nothing was written).
        """
        return self.update(workflow_id, etag=etag, document=document)

    def update(
        self,
        workflow_id: str,
        *,
        etag: str | None = None,
        name: str | None = None,
        description: str | None = None,
        category: str | None = None,
        tags: Sequence[str] | None = None,
        document: dict[str, Any] | None = None,
    ) -> WorkflowSaved:
        """Change the fields given (the draft, name, description, category, tags).

        Raises:
            StaleRevision: the workflow changed since `etag` was read (nothing was written).
        """
        body = drop_none(name=name, description=description, category=category, document=document)
        if tags is not None:
            body["tags"] = list(tags)
        answer = self._client.request("PATCH", f"/workflows/{workflow_id}", json=body, headers=_if_match(etag))
        return WorkflowSaved.model_validate(answer)

    def delete(self, workflow_id: str, *, etag: str | None = None) -> None:
        """Delete a workflow (its versions are kept for the executions that ran them)."""
        self._client.request("DELETE", f"/workflows/{workflow_id}", headers=_if_match(etag))

    def validate(self, workflow_id: str) -> ValidationReport:
        """The problems of the draft, as a publish would see them."""
        return ValidationReport.model_validate(self._client.request("POST", f"/workflows/{workflow_id}/validate"))

    def publish(self, workflow_id: str, *, note: str = "", etag: str | None = None) -> Version:
        """Publish the draft as the next version.

        Raises:
            ApiError: 422 `invalid_flow` with the draft's problems in `.problems`; `StaleRevision`.
        """
        path = f"/workflows/{workflow_id}/publish"
        return Version.model_validate(self._client.request("POST", path, json={"note": note}, headers=_if_match(etag)))

    def versions(self, workflow_id: str, *, limit: int = 50, offset: int = 0) -> Page[VersionSummary]:
        """Published versions, newest first."""
        params = {"limit": limit, "offset": offset}
        return page_of(VersionSummary, self._client.request("GET", f"/workflows/{workflow_id}/versions", params=params))

    def version(self, workflow_id: str, number: int) -> Version:
        """Published version `number` with its document."""
        return Version.model_validate(self._client.request("GET", f"/workflows/{workflow_id}/versions/{number}"))

    def rollback(self, workflow_id: str, number: int, *, note: str = "", etag: str | None = None) -> Version:
        """Publish a copy of version `number` as a new version, and make it the draft."""
        path = f"/workflows/{workflow_id}/versions/{number}/rollback"
        return Version.model_validate(self._client.request("POST", path, json={"note": note}, headers=_if_match(etag)))

    def diff(
        self, workflow_id: str, *, before: VersionRef | None = None, after: VersionRef | None = None
    ) -> WorkflowDiff:
        """What changed from `before` (default: the latest version) to `after` (default: the draft)."""
        params = drop_none(**{"from": before, "to": after})
        return WorkflowDiff.model_validate(self._client.request("GET", f"/workflows/{workflow_id}/diff", params=params))

    def publish_check(self, workflow_id: str) -> dict[str, Any]:
        """The callers a publish of the draft would break (`breaking`, `callers` with each change)."""
        answer: dict[str, Any] = self._client.request("POST", f"/workflows/{workflow_id}/publish-check")
        return answer

    def callers(self, workflow_id: str) -> dict[str, Any]:
        """The workflows whose draft or latest version call this one by name."""
        answer: dict[str, Any] = self._client.request("GET", f"/workflows/{workflow_id}/callers")
        return answer

    def clone(
        self, workflow_id: str, name: str, *, description: str | None = None, version: int | None = None
    ) -> WorkflowSaved:
        """A new workflow `name` copying the draft (or published `version`) and the metadata."""
        body = drop_none(name=name, description=description, version=version)
        return WorkflowSaved.model_validate(self._client.request("POST", f"/workflows/{workflow_id}/clone", json=body))

    def export_bundle(self, workflow_id: str) -> dict[str, Any]:
        """The workflow and the sub-flows it calls as a bundle (`rpa.bundle/1`; never secret values)."""
        bundle: dict[str, Any] = self._client.request("GET", f"/workflows/{workflow_id}/export")
        return bundle

    def import_bundle(
        self, bundle: dict[str, Any], *, on_conflict: Literal["fail", "rename", "replace"] = "fail"
    ) -> builtins.list[ImportedWorkflow]:
        """Import a bundle; a name in use fails (409 `name_taken`), is renamed, or replaces the old one."""
        answer = self._client.request("POST", "/workflows/import", json=bundle, params={"on_conflict": on_conflict})
        return [ImportedWorkflow.model_validate(w) for w in answer["workflows"]]


def _at(offset: int) -> dict[str, int]:
    return {"limit": 500, "offset": offset}
