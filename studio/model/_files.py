"""The studio's small files: settings (recent files, switched-off rules) and crash recovery.

Both live in the user's config folder (`$XDG_CONFIG_HOME/rpa-studio`, `%APPDATA%\\rpa-studio`
on Windows), injectable for tests. Autosave writes the unsaved document to a recovery file
every few seconds; after a crash the view asks `Recovery.candidates()` on start and offers
each back (restore or discard). A save removes the recovery file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.steps import StepRegistry
from studio.model._document import DocumentError, FlowDocument, write_atomic


def config_dir() -> Path:
    """The studio's folder in the user's config dir."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rpa-studio"


class Settings:
    """A small JSON settings file; a broken file reads as empty (and is replaced on write)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"

    def read(self) -> dict[str, Any]:
        """Everything stored."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        """One value."""
        return self.read().get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store one value (atomically)."""
        data = self.read()
        data[key] = value
        write_atomic(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class RecentFiles:
    """The recently opened flows, newest first, without duplicates."""

    KEY = "recent_files"

    def __init__(self, settings: Settings, limit: int = 10) -> None:
        self.settings = settings
        self.limit = limit

    def list(self) -> list[Path]:
        """The recent files that still exist."""
        stored = self.settings.get(self.KEY, [])
        return [Path(p) for p in stored if isinstance(p, str) and Path(p).is_file()] if isinstance(stored, list) else []

    def add(self, path: str | Path) -> None:
        """Put `path` first."""
        resolved = str(Path(path).resolve())
        stored = [p for p in self.settings.get(self.KEY, []) if isinstance(p, str) and p != resolved]
        self.settings.set(self.KEY, [resolved, *stored][: self.limit])

    def remove(self, path: str | Path) -> None:
        """Forget `path`."""
        resolved = str(Path(path).resolve())
        self.settings.set(self.KEY, [p for p in self.settings.get(self.KEY, []) if p != resolved])


@dataclass(frozen=True, slots=True)
class RecoveryCandidate:
    """An unsaved document left by a studio that did not close properly."""

    file: Path
    """The recovery file."""
    original: Path | None
    """The flow file it belongs to (None for a flow never saved)."""
    title: str
    saved_at: float


class Recovery:
    """Autosave of unsaved documents, and the offer to restore them after a crash."""

    def __init__(self, folder: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder or config_dir() / "recovery"
        self.clock = clock
        self._untitled: dict[int, str] = {}
        self._written: dict[int, Path] = {}

    def _file_for(self, document: FlowDocument) -> Path:
        if document.path is not None:
            key = hashlib.sha256(str(document.path.resolve()).encode()).hexdigest()[:16]
        else:
            key = self._untitled.setdefault(id(document), f"untitled-{os.getpid()}-{len(self._untitled) + 1}")
        return self.folder / f"{key}.json"

    def autosave(self, document: FlowDocument) -> Path | None:
        """Write the document to its recovery file if it has unsaved edits; else remove that file."""
        target = self._file_for(document)
        previous = self._written.get(id(document))
        if previous is not None and previous != target:
            previous.unlink(missing_ok=True)  # saved under a name since: the old key is stale
        if not document.dirty:
            target.unlink(missing_ok=True)
            self._written.pop(id(document), None)
            return None
        self._written[id(document)] = target
        payload = {
            "original": str(document.path.resolve()) if document.path else None,
            "title": document.title,
            "saved_at": self.clock(),
            "document": document.to_text(),
        }
        write_atomic(target, json.dumps(payload, ensure_ascii=False) + "\n")
        return target

    def forget(self, document: FlowDocument) -> None:
        """The document was closed on purpose: drop its recovery file."""
        self._file_for(document).unlink(missing_ok=True)
        written = self._written.pop(id(document), None)
        if written is not None:
            written.unlink(missing_ok=True)

    def candidates(self) -> list[RecoveryCandidate]:
        """Recovery files newer than the flow file they belong to, newest first."""
        found: list[RecoveryCandidate] = []
        for file in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            try:
                payload = json.loads(file.read_text(encoding="utf-8"))
                original = Path(payload["original"]) if payload.get("original") else None
                saved_at = float(payload["saved_at"])
                title = str(payload.get("title") or file.stem)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if original is not None and original.is_file() and original.stat().st_mtime > saved_at:
                continue  # saved since: the recovery is older than the file
            found.append(RecoveryCandidate(file, original, title, saved_at))
        return sorted(found, key=lambda c: c.saved_at, reverse=True)

    def restore(self, candidate: RecoveryCandidate, *, registry: StepRegistry | None = None) -> FlowDocument:
        """The recovered document: dirty, with its original path (save writes it there).

        Raises:
            DocumentError: the recovery file is unreadable.
        """
        try:
            payload = json.loads(candidate.file.read_text(encoding="utf-8"))
            text = payload["document"]
        except (OSError, ValueError, KeyError) as err:
            raise DocumentError(f"cannot read the recovery file {candidate.file}: {err}") from None
        document = FlowDocument.from_text(text, where=str(candidate.file), registry=registry)
        document.path = candidate.original
        document.undo_stack.clean_index = None
        self._untitled[id(document)] = candidate.file.stem
        return document

    def discard(self, candidate: RecoveryCandidate) -> None:
        """Throw a recovery away."""
        candidate.file.unlink(missing_ok=True)
