"""The published versions of the sub-flows a flow calls by name (`flow.call`), transitively.

The dispatcher pins them into a job (`JobAssign.subflows`, and their files in
`JobAssign.subflow_assets`); the agent's asset route resolves them again to allow the files of
those versions to the agent holding the execution.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import Conflict
from orchestrator.models.workflows import WorkflowVersion
from orchestrator.services.bundles import called_names
from orchestrator.services.workflows import published_version_by_name

__all__ = ["MAX_SUBFLOWS", "called_versions"]

MAX_SUBFLOWS = 100


async def called_versions(
    session: AsyncSession, org_id: uuid.UUID, document: dict[str, Any]
) -> dict[str, WorkflowVersion]:
    """Name -> published version of every workflow a `flow.call` of `document` names, transitively.

    Raises:
        NotFound: a called workflow does not exist.
        Conflict: one was never published, or more than `MAX_SUBFLOWS` are called.
    """
    found: dict[str, WorkflowVersion] = {}
    pending = called_names(document)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        if len(found) >= MAX_SUBFLOWS:
            raise Conflict(f"the flow calls more than {MAX_SUBFLOWS} sub-flows", code="too_many_subflows")
        version = await published_version_by_name(session, org_id, name)
        found[name] = version
        pending += called_names(dict(version.document))
    return found
