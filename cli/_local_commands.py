"""The local commands: `schema`, `validate`, `steps` and `run`, on flow files and the shared core
alone (no orchestrator, no network)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._console import EXIT_INVALID, err, fail, out
from cli._progress import Progress
from shared.engine import Engine, FileFlowLoader, Journal, MemoryJournal, SqliteJournal
from shared.errors import FlowInputError, FlowInvalidError, FlowLoadError
from shared.expressions import flatten_credentials
from shared.flow import Flow, Problem, flow_json_schema, load_flow, missing_assets, validate_document
from shared.flow._load import parse_document, read_document
from shared.steps import StepRegistry


def _registry() -> StepRegistry:
    return StepRegistry.default()


def schema() -> None:
    """Print the JSON Schema of the flow format."""
    sys.stdout.write(json.dumps(flow_json_schema(), indent=2) + "\n")


def with_missing_assets(problems: list[Problem], document: Any, registry: StepRegistry, flow: Path) -> list[Problem]:
    """`problems` and the files the flow names that are not next to it (a param already at fault,
    such as a target that does not parse, is not reported twice)."""
    if not isinstance(document, dict):
        return problems
    faulty = {problem.path for problem in problems}
    missing = missing_assets(document, registry, flow.resolve().parent)
    return [*problems, *(problem for problem in missing if problem.path not in faulty)]


def validate(
    flow: Annotated[Path, typer.Argument(help="The flow file (JSON or YAML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Check a flow and report every problem with its JSON path. Exit 0 when valid, 2 when not."""
    try:
        document = read_document(flow)
        registry = _registry()
        problems = with_missing_assets(validate_document(document, registry), document, registry, flow)
    except FlowLoadError as exc:
        found = {"path": "$", "message": exc.message, "code": "syntax", "line": exc.line, "column": exc.column}
        problems_out = [{k: v for k, v in found.items() if v is not None}]
        if as_json:
            sys.stdout.write(json.dumps({"valid": False, "problems": problems_out}, indent=2) + "\n")
        else:
            where = f":{exc.line}:{exc.column}" if exc.line is not None else ""
            err.print(f"{flow}{where}: {exc.message}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        sys.stdout.write(
            json.dumps({"valid": not problems, "problems": [p.to_dict() for p in problems]}, indent=2) + "\n"
        )
    elif problems:
        err.print(f"{flow}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", highlight=False)
        for problem in problems:
            err.print(f"  [cyan]{problem.path}[/]: {problem.message}", highlight=False)
    else:
        out.print(f"{flow}: valid", highlight=False)
    if problems:
        raise typer.Exit(EXIT_INVALID)


def steps(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the step catalogue with each step's params."""
    registry = _registry()
    if as_json:
        sys.stdout.write(json.dumps([d.describe() for d in registry], indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"{len(registry)} steps", show_lines=False)
    for column in ("step", "kind", "needs", "params", "summary"):
        table.add_column(column)
    for definition in registry:
        fields = definition.params.model_fields
        params = ", ".join(f"{name}{'' if info.is_required() else '?'}" for name, info in fields.items())
        table.add_row(definition.name, definition.kind, definition.capability or "", params, definition.summary)
    out.print(table)


def _object_file(path: Path, option: str, what: str) -> dict[str, Any]:
    """A JSON or YAML file holding an object; a problem exits 2 naming the option and the file."""
    try:
        loaded = parse_document(path.read_text(encoding="utf-8"))
    except (OSError, FlowLoadError) as exc:
        raise fail(f"{option} {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise fail(f"{option} {path}: expected an object of {what}")
    return loaded


def _parse_inputs(pairs: list[str], inputs_file: Path | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        inputs.update(_object_file(inputs_file, "--inputs-file", "input names to values"))
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise fail(f"--input {pair!r}: expected NAME=VALUE")
        try:
            inputs[name] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[name] = raw
    return inputs


SECRET_ENV_PREFIX = "RPA_SECRET_"


def _load_secrets(secrets_file: Path | None) -> dict[str, str]:
    """Secrets for a local run: `RPA_SECRET_<NAME>` variables, then a JSON/YAML file of
    credential names to values (a string, or an object of fields such as username/password)."""
    values: dict[str, Any] = {
        key[len(SECRET_ENV_PREFIX) :].lower(): value
        for key, value in os.environ.items()
        if key.startswith(SECRET_ENV_PREFIX) and len(key) > len(SECRET_ENV_PREFIX)
    }
    if secrets_file is not None:
        values.update(_object_file(secrets_file, "--secrets", "credential names to values"))
    return flatten_credentials(values)


def _open_journal(path: Path | None, resume: bool) -> Journal:
    if path is None:
        if resume:
            raise fail("--resume needs --journal PATH (the journal of the run to resume)")
        return MemoryJournal(uuid.uuid4().hex)
    if resume:
        unfinished = [eid for eid, finished in SqliteJournal.executions(path) if not finished]
        if not unfinished:
            raise fail(f"{path}: no unfinished execution to resume")
        return SqliteJournal(path, unfinished[-1])
    return SqliteJournal(path, uuid.uuid4().hex)


def load_or_exit(path: Path, registry: StepRegistry) -> Flow:
    """Load a flow file, or print its problems and exit 2."""
    try:
        return load_flow(path, registry=registry)
    except FlowLoadError as exc:
        where = f":{exc.line}:{exc.column}" if exc.line is not None else ""
        raise fail(f"{path}{where}: {exc.message}") from None
    except FlowInvalidError as exc:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in exc.problems)
        raise fail(f"{path} is invalid ({len(exc.problems)} problems):\n{lines}") from None


def run(
    flow: Annotated[Path, typer.Argument(help="The flow file (JSON or YAML).")],
    input_: Annotated[list[str], typer.Option("--input", "-i", help="NAME=VALUE (VALUE is JSON or text).")] = [],  # noqa: B006
    inputs_file: Annotated[Path | None, typer.Option("--inputs-file", help="A JSON/YAML object of inputs.")] = None,
    journal_path: Annotated[Path | None, typer.Option("--journal", help="Durable journal file (SQLite).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Resume the last unfinished run in --journal.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {status, outputs, execution_id} as JSON.")] = False,
    secrets_file: Annotated[
        Path | None,
        typer.Option("--secrets", help="A JSON/YAML object of credential names to values (also RPA_SECRET_<NAME>)."),
    ] = None,
) -> None:
    """Run a flow locally, with a live progress view. Exit 0 on success, 1 on failure."""
    registry = _registry()
    document = load_or_exit(flow, registry)
    inputs = _parse_inputs(input_, inputs_file)
    secrets = _load_secrets(secrets_file)
    # Files a flow names relatively (a desktop step's `image:button.png`) sit next to the flow.
    os.environ.setdefault("RPA_FLOW_DIR", str(flow.resolve().parent))
    journal = _open_journal(journal_path, resume)
    loader = FileFlowLoader(flow.resolve().parent, registry)
    loader.remember(document, flow)
    artifacts = (journal_path.parent if journal_path else Path.cwd()) / ".rpa-artifacts"
    progress = None if as_json else Progress(err, document.name, journal.execution_id)
    engine = Engine(
        registry,
        loader=loader,
        artifacts_dir=artifacts,
        secrets=secrets.get,
        env={key: value for key, value in os.environ.items() if not key.startswith(SECRET_ENV_PREFIX)},
        on_log=progress.log if progress else None,
        flow_dir=flow.resolve().parent,
    )
    if progress is not None and hasattr(journal, "subscribe"):
        journal.subscribe(progress.on_events)
    logging.basicConfig(level=logging.WARNING)
    try:
        if progress is not None:
            with progress:
                result = asyncio.run(engine.run(document, inputs, journal=journal))
        else:
            result = asyncio.run(engine.run(document, inputs, journal=journal))
    except FlowInputError as exc:
        raise fail("\n".join(exc.problems)) from None
    except KeyboardInterrupt:
        hint = f" (resume with: rpa run {flow} --journal {journal_path} --resume)" if journal_path else ""
        raise fail(f"interrupted{hint}", 130) from None
    finally:
        journal.close()
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        assert progress is not None
        progress.summary(result)
    if result.status != "succeeded":
        raise typer.Exit(1)
