"""Recorded actions to flow nodes, without a browser: each kind of action, typing growing one
node, signals (download, dialog), tabs, and passwords becoming credential references."""

from __future__ import annotations

import json

import pytest

from agent.recorder import ElementInfo, FlowBuilder, NodeChange, RecordedAction, credential_name_for, looks_secret
from shared.flow import validate_document

PAGE, POPUP = object(), object()
USER = ElementInfo('internal:role=textbox[name="User name"i]')
PASSWORD = ElementInfo('internal:role=textbox[name="Password"i]', secret=True)
LOGIN = ElementInfo('internal:role=button[name="Sign in"i]')


def _builder() -> FlowBuilder:
    builder = FlowBuilder(start_url="http://127.0.0.1:8000/login", credential="erp")
    builder.tab_of(PAGE)
    return builder


def _act(
    builder: FlowBuilder,
    name: str,
    element: ElementInfo | None = None,
    kind: str = "added",
    page: object = PAGE,
    **data: object,
) -> list[NodeChange]:
    return builder.on_action(RecordedAction(kind, name, dict(data), page), element)  # type: ignore[arg-type]


def test_a_login_becomes_fill_and_click_nodes_with_the_password_as_a_credential() -> None:
    builder = _builder()
    _act(builder, "navigate", url="http://127.0.0.1:8000/login")
    _act(builder, "fill", USER, text="a")
    _act(builder, "fill", USER, kind="updated", text="ann")
    for typed in ("s", "s3", "s3cret"):
        changes = _act(builder, "fill", PASSWORD, kind="added" if typed == "s" else "updated", text=typed)
    _act(builder, "click", LOGIN, button="left", clickCount=1, modifiers=0)
    assert [(n["id"], n["type"]) for n in builder.nodes] == [
        ("fill_1", "browser.fill"),
        ("fill_2", "browser.fill"),
        ("click_3", "browser.click"),
    ]
    assert builder.nodes[0]["params"] == {"target": USER.target, "value": "ann"}
    assert builder.nodes[1]["params"] == {"target": PASSWORD.target, "credential": "erp.password"}
    assert changes[0].node["id"] == "fill_2"  # typing on replaces the same node
    assert "s3cret" not in json.dumps(builder.flow("login"))


def test_the_recorded_flow_validates_with_the_step_catalogue() -> None:
    builder = _builder()
    _act(builder, "fill", USER, text="ann")
    _act(builder, "fill", PASSWORD, text="x")
    _act(builder, "click", LOGIN, button="right", clickCount=2, modifiers=2 | 8)
    _act(builder, "press", USER, key="Enter", modifiers=1)
    _act(builder, "select", ElementInfo("#country"), options=["fr"])
    _act(builder, "check", ElementInfo("#urgent"))
    _act(builder, "uncheck", ElementInfo("#urgent"))
    _act(builder, "setInputFiles", ElementInfo("#file"), files=["a.pdf"])
    _act(builder, "navigate", url="http://127.0.0.1:8000/orders")
    document = builder.flow("all actions")
    assert validate_document(document) == []
    click = builder.nodes[2]["params"]
    assert click["button"] == "right"
    assert click["click_count"] == 2
    assert click["modifiers"] == ["Control", "Shift"]
    assert builder.nodes[3]["params"]["key"] == "Alt+Enter"
    assert builder.nodes[-1] == {
        "id": "goto_9",
        "type": "browser.goto",
        "params": {"url": "http://127.0.0.1:8000/orders"},
    }
    assert next(n["id"] for n in document["nodes"]) == "open"
    assert document["nodes"][-1]["type"] == "browser.close"


def test_a_click_that_downloads_becomes_a_download_node_with_the_same_id() -> None:
    builder = _builder()
    _act(builder, "click", ElementInfo("text=Report"), button="left", clickCount=1, modifiers=0)
    changes = _act(builder, "download", kind="signal")
    assert changes[0].node == {"id": "click_1", "type": "browser.download", "params": {"target": "text=Report"}}
    assert builder.nodes == [changes[0].node]


def test_a_dialog_is_answered_by_a_node_placed_before_the_action_that_raised_it() -> None:
    builder = _builder()
    _act(builder, "click", ElementInfo("#delete"), button="left", clickCount=1, modifiers=0)
    changes = _act(builder, "dialog", kind="signal")
    assert changes[0].before == "click_1"
    assert [n["type"] for n in builder.nodes] == ["browser.handle_dialog", "browser.click"]


def test_acting_in_a_popup_switches_tab_and_a_closed_tab_is_closed() -> None:
    builder = _builder()
    _act(builder, "click", ElementInfo("text=Open"), button="left", clickCount=1, modifiers=0)
    _act(builder, "popup", kind="signal")
    changes = _act(builder, "click", ElementInfo("#ok"), page=POPUP, button="left", clickCount=1, modifiers=0)
    assert [c.node["type"] for c in changes] == ["browser.switch_tab", "browser.click"]
    assert changes[0].node["params"] == {"index": 1}
    closed = _act(builder, "closePage", page=POPUP)
    assert closed[0].node["params"] == {"index": 1}
    assert builder.active == 0


def test_a_tab_the_user_opens_is_a_new_tab_node() -> None:
    builder = _builder()
    assert _act(builder, "openPage", page=PAGE, url="about:blank") == []
    changes = _act(builder, "openPage", page=POPUP, url="about:blank")
    assert changes[0].node["type"] == "browser.new_tab"
    assert builder.active == 1


def test_the_browsers_own_pages_are_no_navigation() -> None:
    builder = _builder()
    assert _act(builder, "navigate", url="chrome-error://chromewebdata/") == []
    assert _act(builder, "navigate", url="about:blank") == []
    assert builder.nodes == []


def test_a_file_given_without_the_dialog_is_an_upload_of_its_name() -> None:
    builder = _builder()
    changes = _act(builder, "fill", ElementInfo("#file"), text="C:\\fakepath\\invoice.pdf")
    assert changes[0].node["params"] == {"target": "#file", "files": ["invoice.pdf"]}


@pytest.mark.parametrize(
    ("selector", "fingerprint", "secret"),
    [
        ("#x", {"type": "password"}, True),
        ('internal:role=textbox[name="Mot de passe"i]', None, True),
        ('internal:label="PIN"i', None, True),
        ('internal:role=textbox[name="User name"i]', {"type": "text"}, False),
    ],
)
def test_secret_fields_are_recognised(selector: str, fingerprint: dict[str, str] | None, secret: bool) -> None:
    assert looks_secret(selector, fingerprint) is secret


def test_the_credential_name_comes_from_the_host() -> None:
    assert credential_name_for("https://user@erp.example.com:8443/login?x=1") == "erp_example_com"
    assert credential_name_for("file:///tmp/form.html") == "site"
