"""The fallback seam: a `playwright codegen --target python-async` script read into the same
actions the recorder streams, and from them the same nodes. The sample's action lines were
captured from Playwright 1.65's own python-async generator (the one codegen prints with)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.recorder import ElementInfo, FlowBuilder, looks_secret
from agent.recorder._codegen import CodegenParseError, parse_codegen
from shared.flow import validate_document

SAMPLE = Path(__file__).with_name("data") / "codegen_sample.py.txt"


def test_a_codegen_script_becomes_the_same_actions_and_valid_nodes() -> None:
    actions = parse_codegen(SAMPLE.read_text())
    assert [(a.kind, a.name) for a in actions][:4] == [
        ("added", "navigate"),
        ("added", "click"),
        ("added", "fill"),
        ("added", "click"),
    ]
    assert actions[1].data == {
        "selector": 'internal:role=textbox[name="User name"i]',
        "button": "left",
        "clickCount": 1,
        "modifiers": 0,
    }
    builder = FlowBuilder(start_url="http://127.0.0.1:39353/", credential="erp")
    builder.tab_of(actions[0].page)
    for action in actions:
        selector = action.data.get("selector")
        element = ElementInfo(selector, looks_secret(selector, None)) if isinstance(selector, str) else None
        builder.on_action(action, element)
    types = [n["type"] for n in builder.nodes]
    assert types == [
        "browser.click",
        "browser.fill",
        "browser.click",
        "browser.fill",
        "browser.select_option",
        "browser.check",
        "browser.upload",
        "browser.handle_dialog",
        "browser.click",
        "browser.download",
        "browser.click",
        "browser.switch_tab",
        "browser.press",
        "browser.close_tab",
        "browser.click",
    ]
    assert builder.nodes[3]["params"] == {
        "target": 'internal:role=textbox[name="Password"i]',
        "credential": "erp.password",
    }
    assert builder.nodes[4]["params"] == {"target": '[id="c"]', "value": "de"}
    assert builder.nodes[12]["params"]["target"] == (
        'iframe[name="inner"] >> internal:control=enter-frame >> internal:attr=[placeholder="Query"i]'
    )
    assert validate_document(builder.flow("from codegen")) == []


def test_a_script_that_is_not_python_is_refused_with_its_line() -> None:
    with pytest.raises(CodegenParseError, match="line 2"):
        parse_codegen("await page.goto('x')\nawait page.(\n")
