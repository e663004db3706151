"""The start page: new flow, open, recent files, and the templates of `resources/templates/`
with a read-only preview of each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.model import FlowDocument
from studio.views.canvas import FlowView

if TYPE_CHECKING:
    from studio.app._window import StudioWindow

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def templates_dir() -> Path:
    """The folder of the example flows shipped with the suite."""
    import resources

    return Path(resources.__file__).parent / "templates"


@dataclass(frozen=True)
class Template:
    """An example flow: its title, description and flow document (raw JSON)."""

    path: Path
    title: str
    description: str
    flow: dict[str, Any]


def load_templates(folder: Path | None = None) -> list[Template]:
    """Every template of `folder` (a `{"template": {...}, "flow": {...}}` file, or a plain flow);
    unreadable files are left out."""
    found = []
    for path in sorted((folder or templates_dir()).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        meta: dict[str, Any] = data["template"] if isinstance(data.get("template"), dict) else {}
        flow: dict[str, Any] = data["flow"] if isinstance(data.get("flow"), dict) else data
        title = str(meta.get("title") or flow.get("name") or path.stem)
        found.append(Template(path, title, str(meta.get("description") or flow.get("description") or ""), flow))
    return found


def template_document(template: Template) -> FlowDocument:
    """A new, unsaved document from a template, laid out when the template has no positions."""
    document = FlowDocument(json.loads(json.dumps(template.flow)))
    if not any(isinstance(ref.node.get("ui"), dict) for ref in document.index.refs):
        document.execute("auto_layout")
    return document


class StartPage(QWidget):
    """What the window shows before a flow is open."""

    def __init__(self, window: StudioWindow, templates: list[Template] | None = None) -> None:
        super().__init__(window)
        self.window_ = window
        self.templates = load_templates() if templates is None else templates
        title = QLabel("<h1>RPA Studio</h1><p>Draw a flow, check it, debug it, save it.</p>")
        new, open_ = QPushButton("New flow"), QPushButton("Open…")
        new.clicked.connect(window.new_flow)
        open_.clicked.connect(window.open_dialog)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda item: window.open_file(Path(item.data(PATH_ROLE))))
        self.template_list = QListWidget()
        self.template_list.setWordWrap(True)  # a long name wraps rather than scrolling sideways
        for template in self.templates:
            entry = QListWidgetItem(template.title)
            entry.setToolTip(template.description)
            entry.setData(PATH_ROLE, str(template.path))
            self.template_list.addItem(entry)
        self.template_list.currentRowChanged.connect(self.preview)
        self.template_list.itemActivated.connect(lambda _item: self.use_template(self.template_list.currentRow()))
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.preview_view: FlowView | None = None
        self.preview_box = QVBoxLayout()
        buttons = QHBoxLayout()
        buttons.addWidget(new)
        buttons.addWidget(open_)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(title)
        left.addLayout(buttons)
        left.addWidget(QLabel("<b>Recent files</b>"))
        left.addWidget(self.recent)
        left.addWidget(QLabel("<b>Templates</b>"))
        left.addWidget(self.template_list)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Preview</b>"))
        right.addLayout(self.preview_box, 1)
        right.addWidget(self.description)
        layout = QHBoxLayout(self)
        # Template names are whole sentences: the list takes as much room as the preview.
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        self.refresh_recent()
        if self.templates:
            self.template_list.setCurrentRow(0)

    def refresh_recent(self) -> None:
        """List the recent files again."""
        self.recent.clear()
        for path in self.window_.recent.list():
            entry = QListWidgetItem(f"{path.name}  —  {path.parent}")
            entry.setData(PATH_ROLE, str(path))
            self.recent.addItem(entry)

    def preview(self, row: int) -> None:
        """Show template `row` in a small read-only canvas."""
        if self.preview_view is not None:
            self.preview_view.close_scene()
            self.preview_box.removeWidget(self.preview_view)
            self.preview_view.hide()  # gone from the page now, not at the next turn of the loop
            self.preview_view.deleteLater()
            self.preview_view = None
        if not 0 <= row < len(self.templates):
            return
        template = self.templates[row]
        self.preview_view = FlowView(template_document(template), read_only=True)
        self.preview_view.setMinimumSize(320, 240)
        self.preview_box.addWidget(self.preview_view)
        self.preview_view.fit()
        self.description.setText(template.description)

    def use_template(self, row: int) -> None:
        """Open template `row` as a new, unsaved flow."""
        if 0 <= row < len(self.templates):
            self.window_.open_document(template_document(self.templates[row]))
