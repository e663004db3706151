"""The flows the tray offers, fetched from the orchestrator into the local cache (Qt-free).

The agent key cannot list workflows (the API's workflow routes take a user's token, and the
agent's WebSocket only carries the flow of a job it is assigned), and the menu must show what the
signed-in person may run: so the fetch uses the user's session (`shared.client.ApiClient`, as
`rpa login` keeps it). The cache (`<agent home>/flows/`) keeps each flow's latest published
version, with its hotkey and input schema, for offline runs; a version already cached is not
fetched again. A fetch that listed every published workflow also removes the cached flows that are
not among them: unpublished or deleted since, or of another organisation than the one the session
is in now (a person in several organisations sees the flows of the one chosen at sign-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.attended import CachedFlow, FlowCache
from shared.client import ApiClient

PAGE = 100


@dataclass
class SyncResult:
    """What one fetch did."""

    fetched: list[CachedFlow] = field(default_factory=list)
    """Flows whose newest version was not cached yet, now cached."""
    unchanged: int = 0
    """Flows whose newest version was cached already."""
    removed: list[CachedFlow] = field(default_factory=list)
    """Cached flows the orchestrator no longer offers this user, now out of the cache."""


def _published(client: ApiClient) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.request(
            "GET", "/workflows", params={"has_published": "true", "limit": PAGE, "offset": offset, "sort": "name"}
        )
        summaries.extend(page["items"])
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return summaries


def sync_flows(client: ApiClient, cache: FlowCache) -> SyncResult:
    """Cache the newest published version of every workflow the user's organisation publishes.

    Blocking (HTTP): the tray calls it in a worker thread.

    Raises:
        shared.client.ApiError: the orchestrator refused or could not be reached (the cache is
            left as it was: the menu goes on with what it has).
    """
    result = SyncResult()
    offered: set[str] = set()
    for summary in _published(client):
        number = summary.get("latest_version")
        if number is None:
            continue
        offered.add(str(summary["id"]))
        cached = cache.get(str(summary["id"]))
        if cached is not None and cached.version == int(number):
            result.unchanged += 1
            continue
        version = client.request("GET", f"/workflows/{summary['id']}/versions/{number}")
        result.fetched.append(cache.put(str(summary["id"]), int(number), version["document"]))
    # The whole list came: what it does not name is not this user's to run any more.
    for cached in cache.all():
        if cached.workflow_id not in offered and cache.remove(cached.workflow_id):
            result.removed.append(cached)
    return result
