"""`env.*` on an agent shows only the variables its owner allowed, never the whole environment."""

from __future__ import annotations

import pytest

from agent.environment import allowed_env, parse_allowlist
from shared.engine import Engine
from shared.flow import Flow
from shared.steps import StepRegistry


def test_only_allowed_variables_that_are_set_are_shown() -> None:
    environ = {"HOME": "/home/robot", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "REGION": "eu-west-1"}
    assert allowed_env([], environ) == {}
    assert allowed_env(["REGION", "MISSING"], environ) == {"REGION": "eu-west-1"}


def test_the_allowlist_setting_names_a_bad_entry() -> None:
    assert parse_allowlist(" REGION, LANG ,,REGION") == ["LANG", "REGION"]
    with pytest.raises(ValueError, match="'A-B' is not an environment variable name"):
        parse_allowlist("REGION,A-B")


async def test_a_flow_reading_an_unlisted_variable_fails_on_the_agents_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-not-for-flows")
    monkeypatch.setenv("REGION", "eu-west-1")
    flow = Flow.model_validate(
        {
            "schema": "rpa.flow/1",
            "name": "Env",
            "nodes": [
                {"id": "read", "type": "data.template", "params": {"template": "{{ env.REGION }}"}},
                {"id": "steal", "type": "data.template", "params": {"template": "{{ env.AWS_SECRET_ACCESS_KEY }}"}},
            ],
            "edges": [{"from": "read", "to": "steal"}],
            "outputs": {"region": "{{ steps.read.output }}"},
        }
    )
    engine = Engine(StepRegistry.default(), artifacts_dir=tmp_path, env=allowed_env(parse_allowlist("REGION")))
    result = await engine.run(flow, {})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["node"] == "steal"
    assert "known: REGION" in result.error["message"]
    assert "wJalrXUtnFEMI" not in repr(result)
