"""Browser step parts that need no browser: params validation, tables, sealed storage, errors."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.steps.browser._actions import ClickParams, FillParams, SelectParams
from agent.steps.browser._extract import table_rows
from agent.steps.browser._models import FrameRef
from agent.steps.browser._session import OpenParams
from agent.steps.browser._storage import decrypt_state, encrypt_state
from agent.steps.browser._waits import WaitParams
from shared.errors import StepError


def test_table_rows_keep_repeated_names_apart_and_text_that_is_not_a_number() -> None:
    grid = {"width": 3, "head": [["Total", "Total", "Note"]], "body": [["1,200.5", "-3", "n/a"]]}
    assert table_rows(grid, "auto", numbers=True) == [{"Total": 1200.5, "Total (2)": -3, "Note": "n/a"}]
    assert table_rows(grid, "none", numbers=False)[0] == {"col1": "Total", "col2": "Total", "col3": "Note"}


def test_sealed_storage_opens_only_with_its_key() -> None:
    state = {"cookies": [{"name": "sid", "value": "abc123secret"}], "origins": []}
    sealed = encrypt_state(state, "passphrase")
    assert b"abc123secret" not in sealed
    assert decrypt_state(sealed, "passphrase") == state
    with pytest.raises(StepError) as wrong:
        decrypt_state(sealed, "other")
    assert wrong.value.kind == "invalid_file"
    with pytest.raises(StepError):
        decrypt_state(b"{}", "passphrase")


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        (OpenParams, {"on_resume": "rewind"}, "'restore' or 'restart'"),
        (OpenParams, {"args": ["--disable-features=X"]}, "--disable-features"),
        (OpenParams, {"proxy": {"server": "proxy:3128"}}, "scheme"),
        (FillParams, {"target": "#a"}, "exactly one of value or credential"),
        (FillParams, {"target": "#a", "value": "x", "credential": "c"}, "exactly one of value or credential"),
        (SelectParams, {"target": "#a", "value": "x", "label": "y"}, "exactly one of value, label or index"),
        (WaitParams, {}, "give one condition"),
        (WaitParams, {"url": "**/x", "js": "true"}, "only one condition"),
        (ClickParams, {"target": "#a", "click_count": 4}, "less than or equal to 3"),
        (FrameRef, {"name": "a", "url": "b"}, "exactly one of selector, name or url"),
    ],
)
def test_params_are_checked_before_a_run(model: type, params: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(params)
    assert expected in str(err.value)


def test_open_params_accept_a_proxy_list_and_defaults() -> None:
    options = OpenParams.model_validate({"proxy": [{"server": "http://a:1"}, {"server": "socks5://b:2"}]})
    assert options.session == "main"
    assert options.headless
    assert options.on_resume == "restore"


def test_rpa_validate_names_the_json_path_of_a_bad_browser_param() -> None:
    from shared.flow import validate_document
    from shared.steps import StepRegistry

    document = {
        "schema": "rpa.flow/1",
        "name": "bad",
        "nodes": [
            {"id": "open", "type": "browser.open", "params": {"on_resume": "again"}},
            {
                "id": "go",
                "type": "browser.goto",
                "params": {"url": "{{ inputs.u }}", "frame": {"name": "a", "url": "b"}},
            },
        ],
        "edges": [{"from": "open", "to": "go"}],
    }
    problems = {p.path: p.message for p in validate_document(document, StepRegistry.default())}
    assert "'restore' or 'restart'" in problems["$.nodes[0].params.on_resume"]
    assert "exactly one of selector, name or url" in problems["$.nodes[1].params.frame"]


async def test_closing_a_session_that_was_not_reopened_deletes_its_checkpoint() -> None:
    from agent.steps.browser import _checkpoint as cp
    from agent.steps.browser._session_steps import close
    from shared.steps import StepEnvironment

    env = StepEnvironment(execution_id="resumed-at-close")
    path = cp.checkpoint_path("resumed-at-close", "main")
    cp.write_checkpoint(path, {"session": "main", "url": "about:blank", "options": {}, "storage_state": {}})
    assert cp.read_checkpoint(path) is not None
    assert await env.run(close, {}) is False
    assert not path.exists()


def test_a_stale_ffmpeg_link_left_by_another_installation_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.steps.browser import _runtime

    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    revision, ffmpeg = _runtime._ffmpeg_revision(), _runtime.ffmpeg_executable()
    assert revision is not None
    assert ffmpeg is not None
    link = tmp_path / f"rpa-playwright-{os.getuid()}" / f"ffmpeg-{revision}" / "ffmpeg-linux"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "removed-venv" / "ffmpeg")  # dangling, as after a venv is deleted
    _runtime.prepare_browsers_path()
    assert os.path.realpath(link) == os.path.realpath(ffmpeg)
    assert os.environ["PLAYWRIGHT_BROWSERS_PATH"] == str(link.parents[1])
