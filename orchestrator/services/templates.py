"""Flow templates shipped in `resources/templates/*.json`.

A template file is `{"template": {"title", "description", "category", "tags"}, "flow": {…}}`:
the metadata beside a complete `rpa.flow/1` document (kept apart, because a flow document
allows no unknown field). A template's id is its file stem. Templates are read once per process;
a file that cannot be read is logged and left out, so one bad file does not hide the others.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import NotFound

log = logging.getLogger("rpa.orchestrator.templates")

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "resources" / "templates"


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    description: str
    category: str
    tags: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        inputs = self.document.get("inputs")
        return inputs if isinstance(inputs, dict) else {}


def read_template(path: Path) -> Template:
    """One template file.

    Raises:
        ValueError: the file is not a template (the message names what is wrong).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not (isinstance(data, dict) and isinstance(data.get("template"), dict) and isinstance(data.get("flow"), dict)):
        raise ValueError(f"{path.name}: a template is an object with a 'template' block and a 'flow' document")
    meta = data["template"]
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{path.name}: template.title is required")
    return Template(
        id=path.stem,
        title=title.strip(),
        description=str(meta.get("description", "")),
        category=str(meta.get("category", "general")),
        tags=[str(t) for t in meta.get("tags", [])],
        document=data["flow"],
    )


@functools.cache
def load_templates(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every readable template of `directory`, by id, sorted by id."""
    found: dict[str, Template] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            found[path.stem] = read_template(path)
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            log.warning("template %s left out: %s", path.name, exc)
    return found


def list_templates(category: str | None = None) -> list[Template]:
    return [t for t in load_templates().values() if category is None or t.category == category]


def get_template(template_id: str) -> Template:
    template = load_templates().get(template_id)
    if template is None:
        raise NotFound(f"no template '{template_id}'", details={"template_id": template_id})
    return template
