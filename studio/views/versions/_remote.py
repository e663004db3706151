"""The orchestrator calls of the versions, diff, breaking-change and AI views, in one place.

`WorkflowServer` names them, and `RemoteWorkflows` implements them with the typed API client
(`client.workflows`, `client.ai`), handing the views the API's JSON shapes. The calls are
blocking (httpx): views make them with `asyncio.to_thread`, so a slow server never freezes the
window.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from shared.client import ApiClient, ApiError

__all__ = ["RemoteWorkflows", "WorkflowServer"]


class WorkflowServer(Protocol):
    """What the versions, diff and AI views ask the orchestrator."""

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """The workflow with its draft."""
        ...

    def list_versions(self, workflow_id: str) -> list[dict[str, Any]]:
        """Its published versions, newest first: `number`, `note`, `created_by`, `created_at`..."""
        ...

    def get_version(self, workflow_id: str, number: int) -> dict[str, Any]:
        """One version with its `document`."""
        ...

    def diff_versions(self, workflow_id: str, before: int | str, after: int | str) -> dict[str, Any]:
        """The server's diff of two versions (or a version and `"draft"`)."""
        ...

    def rollback(self, workflow_id: str, number: int, note: str = "") -> dict[str, Any]:
        """Publish a copy of version `number` and make it the draft; the new version."""
        ...

    def publish_check(self, workflow_id: str) -> dict[str, Any]:
        """The callers a publish of the draft would break."""
        ...

    def user_name(self, user_id: str | None) -> str:
        """Who a user id is, for people (their name, else e-mail, else a short id)."""
        ...

    def build_flow(self, description: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """The AI flow builder's proposal (`flow`, `model`, `attempts`, `usage`)."""
        ...

    def diagnose(self, execution_id: str) -> dict[str, Any]:
        """Why a failed execution failed (`explanation`) and the fixed `flow`."""
        ...


class RemoteWorkflows:
    """`WorkflowServer` over an `ApiClient` (one signed-in orchestrator)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._names: dict[str, str] = {}

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return self.client.workflows.get(workflow_id).model_dump(mode="json")

    def list_versions(self, workflow_id: str) -> list[dict[str, Any]]:
        versions: list[dict[str, Any]] = []
        while True:
            page = self.client.workflows.versions(workflow_id, limit=100, offset=len(versions))
            versions += [version.model_dump(mode="json") for version in page.items]
            if not page.items or len(versions) >= page.total:
                return versions

    def get_version(self, workflow_id: str, number: int) -> dict[str, Any]:
        return self.client.workflows.version(workflow_id, number).model_dump(mode="json")

    def diff_versions(self, workflow_id: str, before: int | str, after: int | str) -> dict[str, Any]:
        diff = self.client.workflows.diff(workflow_id, before=_ref(before), after=_ref(after))
        return diff.model_dump(mode="json", by_alias=True)

    def rollback(self, workflow_id: str, number: int, note: str = "") -> dict[str, Any]:
        version = self.client.workflows.rollback(workflow_id, number, note=note or f"Rolled back to version {number}")
        return version.model_dump(mode="json")

    def publish_check(self, workflow_id: str) -> dict[str, Any]:
        return self.client.workflows.publish_check(workflow_id)

    def user_name(self, user_id: str | None) -> str:
        if not user_id:
            return "—"
        if user_id not in self._names:
            try:
                user = self.client.request("GET", f"/users/{user_id}")
                self._names[user_id] = str(user.get("name") or user.get("email") or user_id[:8])
            except ApiError:
                self._names[user_id] = user_id[:8]  # a member who left, or a role that cannot list members
        return self._names[user_id]

    def build_flow(self, description: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.client.ai.build_flow(description, flow=current).model_dump(mode="json")

    def diagnose(self, execution_id: str) -> dict[str, Any]:
        return self.client.ai.diagnose(execution_id).model_dump(mode="json")


def _ref(version: int | str) -> int | Literal["draft"]:
    """A version number, or the draft, as the typed client names them."""
    if isinstance(version, int):
        return version
    return "draft" if version == "draft" else int(version)
