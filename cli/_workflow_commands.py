"""`rpa workflow push FILE`: a flow file and the files it names, from disk to the orchestrator.

The flow is checked first as `rpa validate` does, including its assets on disk (an image target
`image:images/ok.png` must be a file next to the flow). Then the workflow of the flow's name is
created or its draft replaced, the draft's files are made to match the folder (each asset the
flow names uploaded; files the draft holds that the flow no longer names removed), and with
`--publish` the draft becomes a new version carrying exactly those files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli._console import EXIT_INVALID, err, fail, out
from cli._local_commands import with_missing_assets
from cli._remote_commands import _call, _client
from shared.client import ApiClient, ApiError
from shared.errors import FlowLoadError
from shared.flow import find_assets, validate_document
from shared.flow._load import read_document
from shared.steps import StepRegistry

workflow_app = typer.Typer(
    help="Publish flows from disk to the orchestrator (after `rpa login`).", no_args_is_help=True
)


def _checked(flow: Path, registry: StepRegistry) -> dict[str, Any]:
    try:
        document = read_document(flow)
    except FlowLoadError as exc:
        raise fail(f"{flow}: {exc.message}", EXIT_INVALID) from None
    problems = with_missing_assets(validate_document(document, registry), document, registry, flow)
    if problems:
        err.print(f"{flow}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", highlight=False)
        for problem in problems:
            err.print(f"  [cyan]{problem.path}[/]: {problem.message}", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    assert isinstance(document, dict)  # a valid flow is an object
    return document


def _existing(client: ApiClient, name: str) -> dict[str, Any] | None:
    page = _call(client, "GET", "/workflows", params={"q": name, "limit": 50})
    exact = [w for w in page["items"] if w["name"] == name]
    return exact[0] if exact else None


def _upload(client: ApiClient, workflow_id: str, folder: Path, names: list[str]) -> None:
    files = [("files", (name, (folder / name).read_bytes(), "application/octet-stream")) for name in names]
    data = {"paths": names}  # a part's file name may lose its folders on the way: say each path
    _call(client, "POST", f"/workflows/{workflow_id}/assets", files=files, data=data)


def push(
    flow: Annotated[Path, typer.Argument(help="The flow file (JSON or YAML); its assets sit next to it.")],
    publish: Annotated[bool, typer.Option("--publish", help="Publish the draft as a new version.")] = False,
    note: Annotated[str, typer.Option(help="The version's note (with --publish).")] = "",
) -> None:
    """Create or update the workflow of the flow's name from FILE, with the files it names."""
    registry = StepRegistry.default()
    document = _checked(flow, registry)
    names = sorted(find_assets(document, registry))
    name = str(document.get("name") or flow.stem)
    client = _client()
    found = _existing(client, name)
    if found is None:
        created = _call(client, "POST", "/workflows", json={"name": name, "document": document})
        workflow_id = str(created["id"])
        out.print(f"created workflow {name!r} ({workflow_id})", highlight=False)
    else:
        workflow_id = str(found["id"])
        _call(client, "PATCH", f"/workflows/{workflow_id}", json={"document": document})
        out.print(f"updated the draft of {name!r} ({workflow_id})", highlight=False)
    if names:
        _upload(client, workflow_id, flow.resolve().parent, names)
    held = _call(client, "GET", f"/workflows/{workflow_id}/assets", params={"limit": 500})["items"]
    for stale in sorted({a["path"] for a in held} - set(names)):
        _call(client, "DELETE", f"/workflows/{workflow_id}/assets/{stale}")
    out.print(f"{len(names)} asset(s): {', '.join(names) or 'none'}", highlight=False)
    if publish:
        try:
            version = client.request("POST", f"/workflows/{workflow_id}/publish", json={"note": note})
        except ApiError as error:
            raise fail(error.message) from None
        out.print(f"published version {version['number']}", highlight=False)


workflow_app.command("push")(push)
