"""The client commands: `rpa login` and `rpa exec …`, which talk to an orchestrator through
`shared.client`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli._console import fail, out
from shared.client import ApiClient, ApiError
from shared.states import TERMINAL_STATES

exec_app = typer.Typer(
    help="Start, watch and cancel executions on the orchestrator (after `rpa login`).", no_args_is_help=True
)


def _client() -> ApiClient:
    try:
        return ApiClient.from_session()
    except ApiError as error:
        raise fail(error.message) from None


def _call(client: ApiClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client.request(method, path, **kwargs)
    except ApiError as error:
        raise fail(error.message) from None


def login(
    url: Annotated[str, typer.Argument(help="The orchestrator, e.g. http://127.0.0.1:8400")],
    email: Annotated[str, typer.Option(help="Your login.")],
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    totp: Annotated[str | None, typer.Option(help="The current code of your authenticator, if enrolled.")] = None,
) -> None:
    """Log in and keep the session for `rpa exec` (~/.config/rpa/session.json, mode 0600)."""
    secret = password or typer.prompt("password", hide_input=True)
    client = ApiClient(url)
    try:
        client.login(email, secret, totp_code=totp)
    except ApiError as error:
        raise fail(error.message) from None
    path = client.save_session()
    out.print(f"logged in to {client.url} as {email} (session in {path})", highlight=False)


def _workflow_id(client: ApiClient, workflow: str) -> str:
    try:
        found = client.request("GET", f"/workflows/{workflow}")
        return str(found["id"])
    except ApiError:
        pass
    page = _call(client, "GET", "/workflows", params={"q": workflow, "limit": 50})
    exact = [w for w in page["items"] if w["name"] == workflow]
    if len(exact) != 1:
        names = ", ".join(repr(w["name"]) for w in page["items"][:5]) or "none"
        raise fail(f"no single workflow named {workflow!r} (close matches: {names})")
    return str(exact[0]["id"])


def _inputs(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise fail(f"--input {pair!r}: expected NAME=VALUE")
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


@exec_app.command("start")
def exec_start(
    workflow: Annotated[str, typer.Argument(help="The workflow's name or id.")],
    input_: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE (JSON values parsed).")] = None,
    priority: Annotated[str | None, typer.Option(help="low, normal, high or urgent.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the execution to its end; exit 1 unless it succeeds.")
    ] = False,
) -> None:
    """Start the latest published version of a workflow."""
    client = _client()
    body: dict[str, Any] = {"workflow_id": _workflow_id(client, workflow), "inputs": _inputs(input_ or [])}
    if priority:
        body["priority"] = priority
    execution = _call(client, "POST", "/executions", json=body)
    out.print(f"execution {execution['id']} {execution['state']}", highlight=False)
    if wait:
        state = _follow(client, execution["id"])
        raise typer.Exit(0 if state == "succeeded" else 1)


@exec_app.command("status")
def exec_status(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The execution's state, why it waits, and its outputs or error."""
    execution = _call(_client(), "GET", f"/executions/{execution_id}")
    if as_json:
        out.print_json(json.dumps(execution))
        return
    out.print(
        f"{execution['workflow_name']} v{execution['version_number']}: [bold]{execution['state']}[/] "
        f"(attempt {execution['attempt']})",
        highlight=False,
    )
    if execution.get("waiting_reason"):
        out.print(f"waiting: {execution['waiting_reason']}", highlight=False)
    if execution.get("outputs"):
        out.print(f"outputs: {json.dumps(execution['outputs'])}", highlight=False)
    if execution.get("error"):
        out.print(f"error: {execution['error'].get('message')}", highlight=False)


@exec_app.command("logs")
def exec_logs(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")] = False,
) -> None:
    """The execution's journal, one line per event."""
    _follow(_client(), execution_id, follow=follow)


@exec_app.command("cancel")
def exec_cancel(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    reason: Annotated[str, typer.Option(help="Recorded with the cancel.")] = "",
) -> None:
    """Cancel: at once when queued, else when its agent confirms (forced after a grace period)."""
    execution = _call(_client(), "POST", f"/executions/{execution_id}/cancel", json={"reason": reason})
    out.print(
        f"execution {execution_id}: {execution['state']}"
        + (" (cancel requested)" if execution["state"] not in TERMINAL_STATES else ""),
        highlight=False,
    )


def describe(event: dict[str, Any]) -> str:
    """One human line for a journal event."""
    data = event.get("data") or {}
    kind, path = event["type"], event.get("path") or ""
    if kind == "node.started":
        return f"▶ {path} (attempt {data.get('attempt', 1)})"
    if kind == "node.succeeded":
        return f"✔ {path}"
    if kind == "node.failed":
        message = (data.get("error") or {}).get("message", "")
        return f"✖ {path}: {message}" + (" (will retry)" if data.get("will_retry") else "")
    if kind == "log":
        return f"  {path}: {data.get('message', '')}"
    if kind == "execution.finished":
        return f"■ {data.get('status')} {json.dumps(data.get('outputs') or {})}"
    return f"· {kind} {path}".rstrip()


def _follow(client: ApiClient, execution_id: str, *, follow: bool = True) -> str:
    state = ""
    try:
        for kind, data in client.stream(execution_id, follow=follow):
            if kind == "journal":
                out.print(f"{data['seq']:>5} {describe(data)}", highlight=False)
            elif kind == "end":
                state = str(data.get("state", ""))
    except ApiError as error:
        raise fail(error.message) from None
    return state
