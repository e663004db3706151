"""Without the `ai` extra's libraries, the steps fail with MissingDependency naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.steps.ai import extract, generate, vision
from shared.errors import MissingDependency
from shared.steps import StepEnvironment


@pytest.mark.parametrize(
    ("module", "step_fn", "params"),
    [
        ("anthropic", generate, {"prompt": "hi", "credential": "k"}),
        ("jsonschema", extract, {"text": "x", "output_schema": {"type": "object"}}),
        ("PIL", vision, {"image": "x.png"}),
        ("pypdfium2", vision, {"pdf": "x.pdf"}),
    ],
)
async def test_missing_library_names_the_ai_extra(
    module: str, step_fn: object, params: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.png").write_bytes(b"")
    (tmp_path / "x.pdf").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    env = StepEnvironment(secrets={"k": "v"}, artifacts_dir=tmp_path)
    with pytest.raises(MissingDependency) as err:
        await env.run(step_fn, params)  # type: ignore[arg-type]
    assert "[ai]" in str(err.value)
