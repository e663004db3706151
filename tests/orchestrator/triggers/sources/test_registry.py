"""The registry the framework reads, and what each source promises about itself."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import orchestrator.triggers.sources as sources
from orchestrator.triggers.sources import SOURCES


def test_the_public_names_are_pinned() -> None:
    assert sorted(sources.__all__) == sorted(
        [
            "Cursor", "DatabaseSource", "DatabaseSourceConfig", "EmailSource", "EmailSourceConfig", "Emit",
            "FilesSource", "FilesSourceConfig", "SOURCES", "SourceAttachment", "SourceContext", "SourceError",
            "SourceEvent", "TriggerSource",
        ]
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_source_names_its_kind_and_a_strict_documented_config(kind: str) -> None:
    source = SOURCES[kind]
    assert source.kind == kind
    model = source.config_model
    assert issubclass(model, BaseModel)
    assert model.model_config.get("extra") == "forbid"
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []
    assert callable(source().run)
