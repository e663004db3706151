"""A read-only document (a published version opened from an orchestrator) refuses every edit with
a clear message and stays as it was; `mark_saved` makes a document clean without writing a file."""

from __future__ import annotations

import pytest

from shared.steps import StepRegistry
from studio.model import CommandError, DirtyChanged, FlowDocument


def test_a_read_only_document_refuses_edits_and_stays_unchanged() -> None:
    document = FlowDocument.new("Invoices", registry=StepRegistry.default())
    document.execute("add_node", type="core.wait", params={"seconds": 1})
    document.mark_saved()
    before = document.to_text()
    document.read_only = "version 3, published"
    with pytest.raises(CommandError) as caught:
        document.execute("add_node", type="core.wait")
    assert str(caught.value) == "'Invoices' is read-only (version 3, published): it cannot be edited"
    with pytest.raises(CommandError, match="read-only"):
        document.execute("auto_layout")
    assert document.to_text() == before
    assert not document.dirty
    document.read_only = None
    document.execute("add_node", type="core.wait")  # editable again
    assert document.dirty


def test_mark_saved_cleans_without_a_file() -> None:
    document = FlowDocument.new("Invoices", registry=StepRegistry.default())
    heard: list[bool] = []
    document.events.connect(DirtyChanged, lambda event: heard.append(event.dirty))
    document.execute("add_node", type="core.wait")
    assert document.dirty
    document.mark_saved()
    assert (document.dirty, document.path) == (False, None)
    assert heard == [True, False]
