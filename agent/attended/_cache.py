"""The flows this agent keeps for attended runs, so a hotkey works with the orchestrator away.

One JSON file per workflow in `<agent home>/flows/`: its id, the published version number, its
name and the version's document. The tray fills it from the flows its signed-in user may run;
a run started from it reports that version (`execution.report.version`).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.flow import Flow


@dataclass(frozen=True)
class CachedFlow:
    """One published version kept for attended runs."""

    workflow_id: str
    version: int
    name: str
    document: dict[str, Any]

    @property
    def hotkey(self) -> str | None:
        """The flow's hotkey from its attended settings (`settings.hotkey`), if any."""
        value = (self.document.get("settings") or {}).get("hotkey")
        return str(value) if value else None

    def flow(self) -> Flow:
        """The flow model of the document."""
        return Flow.model_validate(self.document)


class FlowCache:
    """The cached flows in a folder (`<agent home>/flows`), written atomically, mode 0600.

    Args:
        folder: where the files live; made (0700) when missing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, workflow_id: str, version: int, document: dict[str, Any]) -> CachedFlow:
        """Keep a version of a workflow (it replaces the one kept before).

        Raises:
            ValueError: the id is not a UUID, or the document is not a valid flow.
        """
        canonical = str(uuid.UUID(workflow_id))
        name = Flow.model_validate(document).name
        cached = CachedFlow(canonical, version, name, document)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.folder / f"{canonical}.json"
        temporary = target.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"workflow_id": canonical, "version": version, "name": name, "document": document}, handle)
        temporary.replace(target)
        return cached

    def remove(self, workflow_id: str) -> bool:
        """Forget a workflow (no longer published, or of another organisation); True if it was kept."""
        try:
            (self.folder / f"{uuid.UUID(workflow_id)}.json").unlink()
        except (FileNotFoundError, ValueError):
            return False
        return True

    def all(self) -> list[CachedFlow]:
        """Every cached flow, by name; an unreadable file is skipped."""
        found: list[CachedFlow] = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(CachedFlow(data["workflow_id"], int(data["version"]), data["name"], data["document"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(found, key=lambda f: f.name.lower())

    def get(self, workflow_id: str) -> CachedFlow | None:
        """The cached version of one workflow, or None."""
        return next((f for f in self.all() if f.workflow_id == workflow_id), None)
