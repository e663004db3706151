"""Request and response models of workflows, versions, diffs, bundles and templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

VersionNumber = Annotated[int, Field(ge=1, le=2_147_483_647)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Tags = Annotated[list[Tag], Field(max_length=50)]
SlaSeconds = Annotated[
    int,
    Field(
        ge=1,
        le=31_536_000,
        description="The SLA target: the longest an execution may take from start to end, in seconds.",
    ),
]

WorkflowSort = Literal["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]
ConflictPolicy = Literal["fail", "rename", "replace"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemPublic(BaseModel):
    """One problem of a flow document, located by a JSON path (`$.nodes[2].params.url`)."""

    path: str
    message: str
    code: str
    line: int | None = None
    column: int | None = None


class WorkflowCreate(_Input):
    name: Name
    description: Description = ""
    category: Category | None = None
    tags: Tags = Field(default_factory=list)
    document: dict[str, Any] | None = Field(
        default=None,
        description="The flow document (`rpa.flow/1`); saved as the draft even when invalid. "
        "Default: an empty flow. Its `name` is set to the workflow's name.",
    )


class WorkflowUpdate(_Input):
    """Only the fields given change; `category: null` clears the category."""

    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    tags: Tags | None = None
    document: dict[str, Any] | None = Field(default=None, description="A new draft (replaces the old one).")
    sla_seconds: SlaSeconds | None = Field(
        default=None, description="The SLA target in seconds (start to end of one execution); null clears it."
    )


class WorkflowSummary(BaseModel):
    """A workflow as lists show it (without its draft)."""

    id: uuid.UUID
    name: str
    description: str
    category: str | None
    tags: list[str]
    draft_revision: int
    latest_version: int | None
    sla_seconds: int | None = Field(
        default=None, description="The SLA target in seconds (start to end of one execution), if set."
    )
    etag: str = Field(description="The value of the ETag header; send it back in If-Match to edit safely.")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class WorkflowPublic(WorkflowSummary):
    draft: dict[str, Any]


class WorkflowSaved(WorkflowPublic):
    """A workflow just written, with the problems of its draft (empty when it can be published)."""

    problems: list[ProblemPublic]


class ValidationReport(BaseModel):
    valid: bool
    problems: list[ProblemPublic]


class PublishRequest(_Input):
    note: Note = ""


class CloneRequest(_Input):
    name: Name
    description: Description | None = Field(default=None, description="Default: the source's description.")
    version: VersionNumber | None = Field(
        default=None, description="Clone this published version instead of the draft."
    )


class TagCount(BaseModel):
    name: str
    count: int


class WorkflowVersionSummary(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    number: int
    note: str
    source_version: int | None = Field(description="For a rollback: the version it copies.")
    created_by: uuid.UUID | None
    created_at: datetime


class WorkflowVersionPublic(WorkflowVersionSummary):
    document: dict[str, Any]


# --- diff -------------------------------------------------------------------------------------


class FieldChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Any = Field(alias="from")
    to: Any


class NodeChange(BaseModel):
    id: str
    fields: dict[str, FieldChange] = Field(description="Changed fields by path: `type`, `params.url`, `parent`…")


class NodesDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[NodeChange]


class EdgeRef(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    graph: str = Field(description="`$` for the top graph, else `<container id>.body|catch|finally`.")
    from_: str = Field(alias="from")
    port: str
    to: str


class EdgesDiff(BaseModel):
    added: list[EdgeRef]
    removed: list[EdgeRef]


class InputChange(BaseModel):
    name: str
    fields: dict[str, FieldChange]


class InputsDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[InputChange]


class ValueChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    from_: Any = Field(alias="from")
    to: Any


class ValuesDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[ValueChange]


class AssetsDiff(BaseModel):
    added: list[str] = Field(default_factory=list, description="Paths only the newer side holds.")
    removed: list[str] = Field(default_factory=list, description="Paths only the older side holds.")
    changed: list[str] = Field(default_factory=list, description="Paths whose content differs.")


class WorkflowDiff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int | Literal["draft"] = Field(alias="from")
    to: int | Literal["draft"]
    identical: bool
    document: dict[str, FieldChange] = Field(description="name, description, version, requires, tags, schema.")
    settings: dict[str, FieldChange]
    inputs: InputsDiff
    outputs: ValuesDiff
    variables: ValuesDiff
    nodes: NodesDiff
    edges: EdgesDiff
    assets: AssetsDiff = Field(default_factory=AssetsDiff, description="The files the flow carries.")


# --- bundles ----------------------------------------------------------------------------------

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
AssetPath = Annotated[str, StringConstraints(min_length=1, max_length=255)]
AssetMap = Annotated[dict[AssetPath, Sha256], Field(max_length=10_000)]


class BundleVersion(_Input):
    number: VersionNumber
    document: dict[str, Any]
    note: Note = ""
    source_version: VersionNumber | None = None
    published_at: datetime | None = None
    assets: AssetMap = Field(default_factory=dict, description="The files it was published with: path -> sha256.")


class BundleTrigger(_Input):
    """A trigger of an exported workflow (a chain names the workflow it follows by name; a webhook's
    token is never exported: the imported one gets a new URL, shown by `rekey`)."""

    kind: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: VersionNumber | None = None
    enabled: bool = False


class BundleWorkflow(_Input):
    name: Name
    description: Description = ""
    category: Category | None = None
    sla_seconds: SlaSeconds | None = None
    tags: Tags = Field(default_factory=list)
    draft: dict[str, Any]
    versions: Annotated[list[BundleVersion], Field(max_length=10_000)] = Field(default_factory=list)
    assets: AssetMap = Field(default_factory=dict, description="The draft's files: path -> sha256.")
    contents: Annotated[dict[Sha256, str], Field(max_length=10_000)] = Field(
        default_factory=dict, description="sha256 -> the base64 bytes of every file the maps name."
    )
    triggers: Annotated[list[BundleTrigger], Field(max_length=1000)] = Field(
        default_factory=list, description="Its triggers; imported paused."
    )


class Bundle(_Input):
    """Workflows with their versions, portable between orchestrators. Never holds secret values:
    flows name secrets only through `{{ secrets.<name> }}` expressions."""

    bundle: Literal["rpa.bundle/1"]
    exported_at: datetime | None = None
    root: str | None = Field(default=None, description="The name of the workflow that was exported.")
    workflows: Annotated[list[BundleWorkflow], Field(min_length=1, max_length=500)]


class ImportedWorkflow(BaseModel):
    id: uuid.UUID
    name: str
    source_name: str = Field(description="Its name in the bundle (differs after `on_conflict=rename`).")
    latest_version: int | None
    replaced_id: uuid.UUID | None = Field(
        default=None, description="With `on_conflict=replace`: the workflow that held the name (now deleted)."
    )


class ImportResult(BaseModel):
    workflows: list[ImportedWorkflow]


# --- templates --------------------------------------------------------------------------------


class TemplatePublic(BaseModel):
    id: str
    title: str
    description: str
    category: str
    tags: list[str]
    inputs: dict[str, Any] = Field(description="The flow's inputs: name → {type, default, required, description}.")


class TemplateDetail(TemplatePublic):
    document: dict[str, Any]


class TemplateInstantiate(_Input):
    name: Name
    description: Description | None = Field(default=None, description="Default: the template's description.")
    category: Category | None = Field(default=None, description="Default: the template's category.")
    tags: Tags | None = Field(default=None, description="Default: the template's tags.")


# --- assets -----------------------------------------------------------------------------------


class AssetPublic(BaseModel):
    """A file of a workflow's draft or version, by its path relative to the flow."""

    path: str = Field(description="Relative to the flow's folder, e.g. images/ok.png.")
    sha256: str = Field(description="The content's hash: equal hashes, equal bytes.")
    size: int
    content_type: str


class AssetsWritten(BaseModel):
    items: list[AssetPublic]
    draft_revision: int
    etag: str
