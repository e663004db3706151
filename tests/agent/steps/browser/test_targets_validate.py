"""`rpa validate` reports a target whose selector cannot parse, with its JSON path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FLOW = {
    "schema": "rpa.flow/1",
    "name": "Targets checked before a run",
    "nodes": [
        {
            "id": "captcha",
            "type": "browser.solve_captcha",
            "params": {
                "credential": "captcha.api_key",
                "kind": "image",
                "image": "img.captcha[",
                "answer_field": {
                    "selector": 'internal:label="Code"i',
                    "fallbacks": ["input[name=code]", "//input[@name='code'"],
                    "anchor": {"text": "Code", "relation": "beside"},
                },
            },
        },
        {
            "id": "templated",
            "type": "browser.solve_captcha",
            "params": {"credential": "captcha.api_key", "kind": "image", "image": "{{ inputs.selector }}"},
        },
        {
            "id": "engine",
            "type": "browser.solve_captcha",
            "params": {"credential": "captcha.api_key", "kind": "image", "image": "foo=bar"},
        },
    ],
    "edges": [{"from": "captcha", "to": "templated"}, {"from": "templated", "to": "engine"}],
}


def rpa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60, check=False)


def test_rpa_validate_names_the_json_path_of_each_bad_selector(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(FLOW), encoding="utf-8")
    result = rpa("validate", str(flow), "--json")
    assert result.returncode == 2, result.stderr
    problems = {p["path"]: p["message"] for p in json.loads(result.stdout)["problems"]}
    image = problems.pop("$.nodes[0].params.image")
    assert image.startswith("CSS selector 'img.captcha[' does not parse")
    xpath = problems.pop("$.nodes[0].params.answer_field.fallbacks[1]")
    assert xpath.startswith("XPath selector \"//input[@name='code'\" does not parse")
    relation = problems.pop("$.nodes[0].params.answer_field.anchor.relation")
    assert "'right_of', 'left_of', 'above', 'below' or 'near'" in relation
    engine = problems.pop("$.nodes[2].params.image")
    assert engine.startswith("unknown selector engine 'foo='")
    assert problems == {}  # the templated selector is checked at run time only


def test_the_fixed_flow_is_valid(tmp_path: Path) -> None:
    fixed = json.loads(json.dumps(FLOW))
    params = fixed["nodes"][0]["params"]
    params["image"] = "img.captcha"
    params["answer_field"]["fallbacks"][1] = "//input[@name='code']"
    params["answer_field"]["anchor"]["relation"] = "right_of"
    fixed["nodes"][2]["params"]["image"] = "id=captcha"
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(fixed), encoding="utf-8")
    result = rpa("validate", str(flow))
    assert result.returncode == 0, result.stderr
