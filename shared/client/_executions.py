"""`client.executions`: start, list, read, follow, cancel and retry executions."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from shared.client._base import Resource, drop_none, page_of
from shared.client._models import Artifact, EventsPage, Execution, Page, Priority, Transition


class ExecutionsApi(Resource):
    """The organisation's executions (`/executions`)."""

    def start(
        self,
        workflow_id: str,
        *,
        inputs: dict[str, Any] | None = None,
        priority: Priority | None = None,
        version: int | None = None,
        deadline_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Start the latest published version (or `version`) of a workflow with `inputs`.

        `priority` defaults to the flow's `settings.priority`. With the same `idempotency_key`, a
        repeated start returns the first execution instead of starting another.
        """
        body = drop_none(workflow_id=workflow_id, priority=priority, version=version, deadline_s=deadline_s)
        body["inputs"] = inputs or {}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return Execution.model_validate(self._client.request("POST", "/executions", json=body, headers=headers))

    def list(
        self,
        *,
        states: Sequence[str] = (),
        workflow_id: str | None = None,
        trigger: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Execution]:
        """A page of executions, newest first; pass `cursor=page.next_cursor` for the next one."""
        params = drop_none(
            workflow_id=workflow_id,
            trigger=trigger,
            created_after=created_after.isoformat() if created_after else None,
            created_before=created_before.isoformat() if created_before else None,
            q=q or None,
            cursor=cursor,
        )
        params |= {"state": builtins.list(states), "limit": limit, "offset": offset}
        return page_of(Execution, self._client.request("GET", "/executions", params=params))

    def get(self, execution_id: str) -> Execution:
        """One execution, with `waiting_reason` while it is queued."""
        return Execution.model_validate(self._client.request("GET", f"/executions/{execution_id}"))

    def events(self, execution_id: str, *, after_seq: int = 0, limit: int = 100) -> EventsPage:
        """A page of the journal after `after_seq` (up to 1000 events)."""
        params = {"after_seq": after_seq, "limit": limit}
        return EventsPage.model_validate(
            self._client.request("GET", f"/executions/{execution_id}/events", params=params)
        )

    def stream(self, execution_id: str, *, follow: bool = True, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """The journal as it arrives: `("journal", event)` pairs, then `("end", {...})`."""
        return self._client.stream(execution_id, follow=follow, after_seq=after_seq)

    def transitions(self, execution_id: str, *, limit: int = 100, offset: int = 0) -> Page[Transition]:
        """The execution's state changes, oldest first."""
        path = f"/executions/{execution_id}/transitions"
        return page_of(Transition, self._client.request("GET", path, params={"limit": limit, "offset": offset}))

    def artifacts(self, execution_id: str, *, limit: int = 100, offset: int = 0) -> Page[Artifact]:
        """The files the execution saved (screenshots, reports, ...)."""
        path = f"/executions/{execution_id}/artifacts"
        return page_of(Artifact, self._client.request("GET", path, params={"limit": limit, "offset": offset}))

    def artifact_bytes(self, execution_id: str, artifact_id: str) -> bytes:
        """The content of one artifact."""
        response = self._client.send("GET", f"/executions/{execution_id}/artifacts/{artifact_id}")
        return bytes(response.content)

    def cancel(self, execution_id: str, *, reason: str = "") -> Execution:
        """Cancel: at once when queued; a running one stops when its agent confirms."""
        path = f"/executions/{execution_id}/cancel"
        return Execution.model_validate(self._client.request("POST", path, json={"reason": reason}))

    def retry(self, execution_id: str, *, resume: bool = False) -> Execution:
        """Run a finished execution again (same version and inputs); `resume` goes on from its journal."""
        path = f"/executions/{execution_id}/retry"
        return Execution.model_validate(self._client.request("POST", path, json={"resume": resume}))
