"""Flow documents that live on an orchestrator: open a draft or a version, save, publish.

A document opened here carries a `RemoteSource` in `FlowDocument.source` (the orchestrator's URL,
the workflow's id, name and the revision it was read at). A published version opens read-only
(`FlowDocument.read_only`): versions never change. Saving sends the revision back: if someone
saved or published since, the orchestrator refuses (`StaleRevision`) and the document stays as it
is, edits and all, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shared.client import ApiClient, ApiError, Version, Workflow, WorkflowSaved
from shared.steps import StepRegistry
from studio.model import FlowDocument


@dataclass(frozen=True)
class RemoteSource:
    """Where a document came from on an orchestrator."""

    url: str
    workflow_id: str
    name: str
    etag: str = ""
    revision: int = 0
    version: int | None = None
    """Set for a published version (read-only); None for the draft."""

    @property
    def label(self) -> str:
        """`Invoices (draft, revision 4)` or `Invoices (version 3, read-only)`."""
        if self.version is not None:
            return f"{self.name} (version {self.version}, read-only)"
        return f"{self.name} (draft, revision {self.revision})"


def source_of(document: FlowDocument) -> RemoteSource | None:
    """The orchestrator source of `document`, or None for a local file."""
    return document.source if isinstance(document.source, RemoteSource) else None


def _document(raw: dict[str, Any], registry: StepRegistry | None) -> FlowDocument:
    return FlowDocument(raw, registry=registry)


def _draft_source(client: ApiClient, workflow: Workflow) -> RemoteSource:
    return RemoteSource(client.url, workflow.id, workflow.name, workflow.etag, workflow.draft_revision)


def open_draft(client: ApiClient, workflow_id: str, *, registry: StepRegistry | None = None) -> FlowDocument:
    """The draft of a workflow as a document that saves back to the orchestrator."""
    workflow = client.workflows.get(workflow_id)
    document = _document(dict(workflow.draft), registry)
    document.source = _draft_source(client, workflow)
    return document


def open_version(
    client: ApiClient, workflow_id: str, number: int, *, registry: StepRegistry | None = None
) -> FlowDocument:
    """Published version `number` of a workflow, read-only."""
    workflow = client.workflows.get(workflow_id)
    version = client.workflows.version(workflow_id, number)
    document = _document(dict(version.document), registry)
    document.source = RemoteSource(client.url, workflow_id, workflow.name, version=number)
    document.read_only = f"version {number} of '{workflow.name}' is published and never changes"
    return document


def save(client: ApiClient, document: FlowDocument, *, name: str | None = None) -> WorkflowSaved:
    """Save the document's flow as its workflow's draft (a document from a file: a new workflow
    named `name`, default its title); the document is then clean and knows its new revision.

    Raises:
        StaleRevision: the draft changed on the orchestrator since it was read; nothing changed
            here or there.
        ApiError: code `read_only` for a published version; the API's refusal otherwise.
    """
    source = source_of(document)
    if source is not None and source.version is not None:
        raise ApiError(0, "read_only", f"{source.label} cannot be saved: save it as a new workflow instead")
    if source is None or source.url != client.url:
        saved = client.workflows.create(name or document.title, document.raw)
    else:
        saved = client.workflows.save_draft(source.workflow_id, document.raw, etag=source.etag or None)
    document.source = _draft_source(client, saved)
    document.mark_saved()
    return saved


def publish(client: ApiClient, document: FlowDocument, *, note: str = "") -> Version:
    """Save the document when it has unsaved edits, then publish its draft with `note`.

    Raises:
        ApiError: code `invalid_flow` with the orchestrator's problems in `.problems`; a
            `StaleRevision`; `not_saved` for a document that is on no orchestrator yet.
    """
    source = source_of(document)
    if source is None or source.url != client.url:
        raise ApiError(0, "not_saved", "save the flow to the orchestrator before publishing it")
    if document.dirty:
        source = _draft_source(client, save(client, document))
    version = client.workflows.publish(source.workflow_id, note=note, etag=source.etag or None)
    fresh = client.workflows.get(source.workflow_id)
    document.source = replace(source, etag=fresh.etag, revision=fresh.draft_revision)
    return version
