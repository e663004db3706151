"""The wire protocol without a browser: commands parsed or refused with a reason, events
masked, and healed selectors read back from a real journal as fixes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.recorder import CommandError, Emitter, JournalReadError, parse_command, read_fixes
from agent.recorder._protocol import PickCommand, SelectorCheckCommand, StopCommand
from shared.engine import SqliteJournal

HEALED = {
    "kind": "healed",
    "old": "#old-submit",
    "fallbacks": ["text=Send"],
    "new": 'internal:role=button[name="Submit"i]',
    "score": 0.91,
    "runner_up": 0.4,
    "element": 'button#submit "Submit"',
    "screenshot": "healed.png",
}


def test_commands_are_parsed_with_their_id() -> None:
    assert parse_command('{"cmd": "stop"}') == StopCommand(cmd="stop")
    assert parse_command('{"cmd": "pick", "id": "p1"}') == PickCommand(cmd="pick", id="p1")
    tested = parse_command('{"cmd": "test_selector", "target": {"selector": "#a", "fallbacks": ["#b"]}}')
    assert isinstance(tested, SelectorCheckCommand)
    assert tested.target == {"selector": "#a", "fallbacks": ["#b"]}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("stop", "one JSON object per line"),
        ("[1]", "a JSON object"),
        ('{"cmd": "fly", "id": "x"}', "known: stop, pick, test_selector, highlight"),
        ('{"cmd": "pick", "colour": "red"}', "colour: Extra inputs are not permitted"),
        ("{" + " " * 70000 + "}", "at most 65536 bytes"),
    ],
)
def test_a_bad_command_is_refused_with_what_is_wrong(line: str, words: str) -> None:
    with pytest.raises(CommandError, match=words) as caught:
        parse_command(line)
    if '"id": "x"' in line:
        assert caught.value.command_id == "x"


def test_events_are_one_masked_json_line_each() -> None:
    stream = io.StringIO()
    emitter = Emitter(stream)
    emitter.masker.add("hunter2-secret")
    emitter.emit("page", tab=0, url="http://h/login?pw=hunter2-secret")
    emitter.error("bad", kind="bad_command", command_id="c1")
    lines = stream.getvalue().splitlines()
    assert json.loads(lines[0]) == {"event": "page", "tab": 0, "url": "http://h/login?pw=***"}
    assert json.loads(lines[1]) == {
        "event": "error",
        "kind": "bad_command",
        "message": "bad",
        "fatal": False,
        "id": "c1",
    }


def test_healed_notes_of_a_sqlite_journal_become_fixes(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path, "exec-1")
    journal.append_many(
        [
            ("node.started", "each[2]/submit", {"attempt": 1}),
            ("node.note", "each[2]/submit", HEALED),
            ("node.note", "each[2]/submit", {"kind": "other"}),
        ]
    )
    journal.close()
    [fix] = read_fixes(path)
    assert fix["node"] == "submit"
    assert fix["path"] == "each[2]/submit"
    assert (fix["old"], fix["new"], fix["score"]) == ("#old-submit", HEALED["new"], 0.91)


def test_healed_notes_of_exported_events_become_fixes(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps({"type": "node.note", "path": "submit", "data": HEALED}) + "\n")
    assert [f["new"] for f in read_fixes(lines)] == [HEALED["new"]]
    listed = tmp_path / "events.json"
    listed.write_text(json.dumps([{"type": "node.note", "path": "submit", "data": HEALED}]))
    assert read_fixes(listed)[0]["old"] == "#old-submit"


def test_a_file_that_is_no_journal_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not json\n")
    with pytest.raises(JournalReadError, match="neither a journal database nor JSON events"):
        read_fixes(bad)
    with pytest.raises(JournalReadError, match=r"missing\.db"):
        read_fixes(tmp_path / "missing.db")


def test_the_public_names_are_pinned() -> None:
    import agent.recorder

    assert agent.recorder.__all__ == [
        "PROTOCOL_VERSION",
        "CommandError",
        "ElementInfo",
        "Emitter",
        "FlowBuilder",
        "JournalReadError",
        "NodeChange",
        "RecordedAction",
        "RecordingAdapter",
        "credential_name_for",
        "looks_secret",
        "parse_command",
        "read_fixes",
    ]


def test_the_recorder_loads_without_playwright() -> None:
    code = (
        "import sys; import agent.recorder, agent.recorder._session, agent.recorder._cli; "
        "print([m for m in sys.modules if m.split('.')[0] in ('playwright', 'greenlet')])"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"
