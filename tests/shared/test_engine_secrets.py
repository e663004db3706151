"""Secrets reach steps but never the journal, the logs or the result; large outputs are
journaled as artifact references and still flow downstream and through a resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.engine import MemoryJournal, SqliteJournal

SECRET = "s3cr3t-Pa55 w0rd!"


def dump(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def everything(outcome: Any, lines: list[Any]) -> str:
    """All that a run exposes: every event, every log line, the result."""
    return dump([e.to_dict() for e in outcome.events]) + dump(lines) + dump(outcome.result.to_dict())


class Vault:
    def __init__(self, **values: str) -> None:
        self.values = values
        self.asked: list[str] = []

    def __call__(self, name: str) -> str | None:
        self.asked.append(name)
        return self.values.get(name)


@pytest.fixture
def secret_flow(make_flow):
    return make_flow(
        [
            {
                "id": "use",
                "type": "test.use_secret",
                "params": {"password": "{{ secrets.db_password }}"},
                "set": {"pw_copy": "{{ output.echo }}"},
            },
            {
                "id": "say",
                "type": "core.log",
                "params": {"message": "connecting with {{ secrets.db_password }}"},
            },
            {
                "id": "url",
                "type": "data.template",
                "params": {"template": "https://h/login?pw={{ secrets.db_password | urlencode }}"},
            },
            {
                "id": "boom",
                "type": "test.boom",
                "on_error": "continue",
                "params": {"message": "rejected {{ secrets.db_password }}"},
            },
            {"id": "after", "type": "core.noop", "params": {"value": "{{ steps.boom.output.message }}"}},
        ],
        [("use", "say"), ("say", "url"), ("url", "boom"), ("boom", "after")],
        variables={"dsn": "db://bot:{{ secrets.db_password }}@host"},
        outputs={
            "echo": "{{ steps.use.output.echo }}",
            "length": "{{ secrets.db_password | length }}",
            "copy": "{{ vars.pw_copy }}",
            "dsn": "{{ vars.dsn }}",
        },
    )


async def test_a_secret_reaches_the_step_but_never_the_journal_the_logs_or_the_result(secret_flow, run, probe):
    lines: list[tuple[str, str, str, str]] = []
    outcome = await run(secret_flow, secrets=Vault(db_password=SECRET), on_log=lambda *line: lines.append(line))
    result = outcome.result

    assert result.status == "succeeded"
    assert probe.received["use"] == SECRET
    assert SECRET not in everything(outcome, lines)
    assert "Pa55" not in everything(outcome, lines)
    # masked, not dropped: the places that held the secret now hold ***
    assert result.outputs == {"echo": "***", "length": len(SECRET), "copy": "***", "dsn": "db://bot:***@host"}
    assert [line[3] for line in lines] == ["logging in with ***", "password=***", "connecting with ***"]
    assert outcome.output("url") == "https://h/login?pw=***"
    assert outcome.output("after") == "ValueError: rejected ***"
    assert outcome.events[0].data["variables"] == {"dsn": "db://bot:***@host"}
    assert [e.data["value"] for e in outcome.of("variable.set")] == ["***"]


async def test_a_secret_never_reaches_the_journal_file_on_disk(secret_flow, make_engine, tmp_path):
    database = tmp_path / "journal.db"
    journal = SqliteJournal(database, "on-disk")
    try:
        result = await make_engine(secrets=Vault(db_password=SECRET)).run(secret_flow, journal=journal)
        assert result.status == "succeeded"
        assert journal.read()[-1].data["outputs"]["echo"] == "***"
    finally:
        journal.close()

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("journal.db*"))
    assert b"***" in stored
    assert SECRET.encode() not in stored


async def test_secrets_are_resolved_only_when_a_template_uses_them(make_flow, run):
    vault = Vault(used="u-value", unused="n-value")
    flow = make_flow(
        [
            {"id": "a", "type": "core.noop", "params": {"value": "{{ secrets.used }}"}},
            {"id": "b", "type": "core.noop", "params": {"value": "{{ secrets.used }}"}},
        ],
        [("a", "b")],
    )
    result, _ = await run(flow, secrets=vault)

    assert result.status == "succeeded"
    assert vault.asked == ["used"]


async def test_an_unknown_secret_fails_the_node_with_kind_expression(make_flow, run):
    flow = make_flow([{"id": "a", "type": "core.noop", "params": {"value": "{{ secrets.nope }}"}}])
    result, _ = await run(flow, secrets=Vault())

    assert result.error["kind"] == "expression"
    assert "nope" in result.error["message"]


async def test_secrets_cannot_be_listed_by_a_template(make_flow, run):
    vault = Vault(a="alpha-secret")
    flow = make_flow(
        [{"id": "a", "type": "core.noop", "params": {"value": "{{ secrets | list }}"}}],
        outputs={"a": "{{ steps.a.output }}"},
    )
    result, _ = await run(flow, secrets=vault)

    assert result.outputs == {"a": []}
    assert vault.asked == []


async def test_a_secret_in_an_expression_error_message_is_masked(make_flow, run):
    flow = make_flow([{"id": "a", "type": "core.noop", "params": {"value": "{{ secrets.pin | to_int }}"}}])
    outcome = await run(flow, secrets=Vault(pin="pin-4411-x"))

    assert outcome.result.error["message"] == "params: cannot convert '***' to int"
    assert "4411" not in everything(outcome, [])


@pytest.mark.parametrize(
    ("secret", "telltale"),
    [
        ("tok_" + "A1b2C3d4" * 10, "A1b2C3d4A1b2C3d4A1b2C3d4"),
        ('it\'s "s3cr3t-value"', "s3cr3t-value"),
    ],
    ids=["long-secret-cut", "quotes-escaped-by-repr"],
)
async def test_a_secret_does_not_leak_through_an_expression_error(make_flow, run, secret, telltale):
    flow = make_flow([{"id": "a", "type": "core.noop", "params": {"value": "{{ secrets.token | to_int }}"}}])
    outcome = await run(flow, secrets=Vault(token=secret))

    assert outcome.result.error["kind"] == "expression"
    assert telltale not in everything(outcome, [])


async def test_a_secret_inside_a_large_output_is_masked_in_the_artifact_file(make_flow, run, artifacts_dir):
    flow = make_flow([{"id": "big", "type": "test.big", "params": {"count": 50, "text": "{{ secrets.pw }}"}}])
    outcome = await run(flow, secrets=Vault(pw=SECRET), max_inline_output=200)

    reference = outcome.output("big")
    text = (artifacts_dir / reference["$artifact"]).read_text(encoding="utf-8")
    assert "***-00049" in text
    assert SECRET not in text


# -- large outputs --------------------------------------------------------------------------------


def big_flow(make_flow: Any) -> Any:
    return make_flow(
        [
            {"id": "big", "type": "test.big", "params": {"count": 200}},
            {
                "id": "count",
                "type": "core.noop",
                "params": {"value": "{{ [steps.big.output | length, steps.big.output[-1]] }}"},
            },
        ],
        [("big", "count")],
        outputs={"count": "{{ steps.count.output }}"},
    )


async def test_a_large_output_is_journaled_as_an_artifact_and_still_reaches_downstream(
    make_flow, make_engine, run, artifacts_dir
):
    engine = make_engine(max_inline_output=1000)
    outcome = await run(big_flow(make_flow), engine=engine, journal=MemoryJournal("large"))

    assert outcome.result.outputs == {"count": [200, "x-00199"]}
    reference = outcome.output("big")
    expected = [f"x-{i:05d}" for i in range(200)]
    assert reference == {"$artifact": "large/outputs/big.json", "size": len(json.dumps(expected))}
    assert (artifacts_dir / "large" / "outputs" / "big.json").is_file()
    assert engine.load_artifact(reference) == expected
    assert outcome.output("count") == [200, "x-00199"]


@pytest.mark.parametrize(("length", "inline"), [(96, True), (97, False)])
async def test_an_output_is_inline_up_to_max_inline_output_characters_of_json(make_flow, run, length, inline):
    # ["<length chars>"] is length + 4 characters of JSON
    flow = make_flow([{"id": "n", "type": "core.noop", "params": {"value": ["y" * length]}}])
    outcome = await run(flow, max_inline_output=100)

    journaled = outcome.output("n")
    assert (journaled == ["y" * length]) is inline
    assert ("$artifact" in journaled) is not inline


async def test_a_resume_reads_a_large_output_back_from_its_artifact(make_flow, make_engine, run, probe):
    flow = big_flow(make_flow)
    first = await run(flow, journal=MemoryJournal("resumable"), max_inline_output=1000)
    cut = next(e.seq for e in first.events if e.type == "node.succeeded" and e.path == "big")

    resumed = await run(flow, journal=MemoryJournal("resumable", first.events[:cut]), max_inline_output=1000)

    assert resumed.result.outputs == {"count": [200, "x-00199"]}
    assert probe.calls_at("big") == 1
    assert [e.path for e in resumed.events[cut:] if e.type == "node.started"] == ["count"]


async def test_large_loop_items_are_journaled_as_an_artifact_and_resume_from_it(make_flow, run, probe, make_engine):
    flow = make_flow(
        [
            {"id": "big", "type": "test.big", "params": {"count": 60}},
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": "{{ steps.big.output }}", "collect": "{{ item[-2:] }}"},
                "body": {"nodes": [{"id": "n", "type": "core.noop"}]},
            },
        ],
        [("big", "each")],
        outputs={"tail": "{{ steps.each.output[-3:] }}"},
    )
    engine = make_engine(max_inline_output=300)
    first = await run(flow, engine=engine, journal=MemoryJournal("items"))
    (started,) = first.of("node.started", "each")
    assert "$artifact" in started.data["items"]
    assert len(engine.load_artifact(started.data["items"])) == 60

    cut = next(e.seq for e in first.events if e.type == "iteration.finished" and e.data["index"] == 10)
    resumed = await run(flow, engine=engine, journal=MemoryJournal("items", first.events[:cut]))

    assert resumed.result.outputs == first.result.outputs == {"tail": ["57", "58", "59"]}
    assert probe.calls_at("big") == 1


async def test_large_iteration_results_each_keep_their_own_artifact(make_flow, make_engine, run):
    flow = make_flow(
        [
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": 2},
                "body": {"nodes": [{"id": "big", "type": "test.big", "params": {"count": 100, "text": "n{{ item }}"}}]},
            }
        ],
        outputs={"first": "{{ steps.each.output[0].big[0] }}", "second": "{{ steps.each.output[1].big[0] }}"},
    )
    engine = make_engine(max_inline_output=500)
    first = await run(flow, engine=engine, journal=MemoryJournal("iterations"))
    assert first.result.outputs == {"first": "n0-00000", "second": "n1-00000"}
    references = [e.data["result"] for e in first.of("iteration.finished")]

    assert [engine.load_artifact(ref)["big"][0] for ref in references] == ["n0-00000", "n1-00000"]
    cut = next(e.seq for e in first.events if e.type == "node.succeeded" and e.path == "each") - 1
    resumed = await run(flow, engine=engine, journal=MemoryJournal("iterations", first.events[:cut]))
    assert resumed.result.outputs == {"first": "n0-00000", "second": "n1-00000"}
