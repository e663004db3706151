"""Image targets named relative to the flow resolve in the run's `flow_dir` (the step context),
where the agent laid out the assets published with the version, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.desktop._find_steps import locate
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.desktop.conftest import FormApp

pytestmark = pytest.mark.desktop


async def test_a_relative_image_resolves_in_the_contexts_flow_dir_only(
    form_app: FormApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assets = tmp_path / "flows" / "exec-1"
    (assets / "images").mkdir(parents=True)
    (assets / "images" / "ok.png").write_bytes(form_app.button_png.read_bytes())
    decoy = tmp_path / "agent-disk"
    (decoy / "images").mkdir(parents=True)
    (decoy / "images" / "ok.png").write_bytes(form_app.button_png.read_bytes())
    monkeypatch.setenv("RPA_FLOW_DIR", str(decoy))
    monkeypatch.chdir(decoy)

    found = await StepEnvironment(flow_dir=assets).run(locate, {"target": "image:images/ok.png", "timeout_s": 5})
    assert found["left"] == 502

    # Another execution's folder lacks it: the agent's own disk is not searched.
    empty = tmp_path / "flows" / "exec-2"
    empty.mkdir()
    with pytest.raises(StepError, match=r"image: no file 'images/ok.png' \(looked in .*exec-2/images\)") as caught:
        await StepEnvironment(flow_dir=empty).run(locate, {"target": "image:images/ok.png", "timeout_s": 0})
    assert str(decoy) not in caught.value.message
    assert caught.value.retryable is False
