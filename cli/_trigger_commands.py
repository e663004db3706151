"""`rpa trigger …`: list, create, show, pause, resume, delete and fire a workflow's triggers
through `shared.client` (after `rpa login`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._console import fail, out
from cli._remote_commands import _call, _client, _workflow_id

trigger_app = typer.Typer(help="Webhooks, schedules, chains, events and sources that start workflows.")


def _json(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        value = json.loads(source)
    except ValueError as error:
        raise fail(f"{what}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise fail(f"{what}: expected a JSON object")
    return value


def _line(trigger: dict[str, Any]) -> str:
    state = trigger["state"]
    flag = "on " if state["enabled"] else "off"
    last = state["last_fired_at"] or "never"
    error = f"  error: {state['last_error']}" if state["last_error"] else ""
    fired = f"fired {state['fire_count']}x, last {last}"
    return f"{trigger['id']}  {flag} {trigger['kind']:<9} {trigger['name']}  {fired}{error}"


@trigger_app.command("list")
def list_(workflow: Annotated[str | None, typer.Argument(help="Only this workflow's (name or id).")] = None) -> None:
    """The organisation's triggers (or one workflow's)."""
    client = _client()
    params = {"limit": 500}
    if workflow:
        params["workflow_id"] = _workflow_id(client, workflow)  # type: ignore[assignment]
    for trigger in _call(client, "GET", "/triggers", params=params)["items"]:
        out.print(_line(trigger), highlight=False)


@trigger_app.command("create")
def create(
    workflow: Annotated[str, typer.Argument(help="The workflow's name or id.")],
    kind: Annotated[str, typer.Argument(help="webhook, schedule, chain, event, email, files, database.")],
    name: Annotated[str, typer.Option(help="The trigger's name.")],
    config: Annotated[str | None, typer.Option(help="The kind's settings: JSON, or @file.json.")] = None,
    inputs: Annotated[str | None, typer.Option(help="Input mapping: JSON ({{ event.… }}), or @file.")] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
) -> None:
    """Add a trigger; a webhook's URL is printed now and never again."""
    client = _client()
    body = {
        "name": name,
        "kind": kind,
        "config": _json(config, "--config"),
        "inputs": _json(inputs, "--inputs"),
        "enabled": not paused,
    }
    created = _call(client, "POST", f"/workflows/{_workflow_id(client, workflow)}/triggers", json=body)
    out.print(_line(created), highlight=False)
    if created.get("url"):
        out.print(f"url: {client.url}{created['url']}", highlight=False)
    for due in created.get("next_fire_times", [])[:3]:
        out.print(f"next: {due}", highlight=False)


@trigger_app.command("show")
def show(trigger_id: Annotated[str, typer.Argument(help="The trigger's id.")]) -> None:
    """A trigger's config, state and last events (JSON)."""
    out.print_json(json.dumps(_call(_client(), "GET", f"/triggers/{trigger_id}")))


@trigger_app.command("pause")
def pause(trigger_id: Annotated[str, typer.Argument(help="The trigger's id.")]) -> None:
    """Pause: nothing fires until it is resumed."""
    out.print(_line(_call(_client(), "POST", f"/triggers/{trigger_id}/pause")), highlight=False)


@trigger_app.command("resume")
def resume(trigger_id: Annotated[str, typer.Argument(help="The trigger's id.")]) -> None:
    """Resume a paused trigger (a schedule starts from now)."""
    out.print(_line(_call(_client(), "POST", f"/triggers/{trigger_id}/resume")), highlight=False)


@trigger_app.command("delete")
def delete(trigger_id: Annotated[str, typer.Argument(help="The trigger's id.")]) -> None:
    """Delete a trigger and its events."""
    _call(_client(), "DELETE", f"/triggers/{trigger_id}")
    out.print(f"deleted {trigger_id}", highlight=False)


@trigger_app.command("fire")
def fire(
    trigger_id: Annotated[str, typer.Argument(help="The trigger's id.")],
    payload: Annotated[str | None, typer.Option(help="The event (JSON, or @file): what `event` is.")] = None,
    key: Annotated[str | None, typer.Option(help="The event's key: the same key never starts twice.")] = None,
) -> None:
    """Fire a trigger by hand, as its event would."""
    body: dict[str, Any] = {"payload": _json(payload, "--payload")}
    if key:
        body["key"] = key
    fired = _call(_client(), "POST", f"/triggers/{trigger_id}/fire", json=body)
    again = "" if fired["new"] else " (seen before)"
    out.print(f"{fired['outcome']}{again}: execution {fired['execution_id']}", highlight=False)
    if fired["error"]:
        out.print(f"error: {fired['error']}", highlight=False)
        raise typer.Exit(1)
