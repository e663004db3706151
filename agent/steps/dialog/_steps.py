"""The dialog steps: ask the person at this machine through the registered dialog host.

Every step waits at most `timeout_s`; without a host (a headless agent) or an answer in time it
uses its `default`, or fails (`no_dialog_host`, `dialog_timeout`). A person who cancels fails the
step (`dialog_cancelled`, a business error: retrying asks again only if the flow says so). Every
answer is checked before it becomes the output, which the engine journals: a resumed run replays
it and does not ask again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.attended._dialogs import DialogCancelled, DialogRequest, check_answers, current_host
from agent.steps.dialog._params import (
    ChooseFileParams,
    ChooseFolderParams,
    ConfirmParams,
    InputParams,
    MessageParams,
    ReviewTableParams,
    SelectParams,
    _Dialog,
)
from shared.errors import BusinessError, StepError
from shared.steps import context, step
from shared.tables import check_table

_NO_DEFAULT = object()


async def _ask(params: _Dialog, request: DialogRequest, default: Any) -> Any:
    """The host's answer, or the default (or the error) when there is no host or no answer in time."""
    ctx = context()
    host = current_host()
    if host is None:
        if default is _NO_DEFAULT:
            raise StepError(
                f"{request.kind.replace('_', ' ')} dialog '{request.title}' needs a person, but this agent "
                "shows no dialogs (no tray); give the step a default to run without one",
                kind="no_dialog_host",
                retryable=False,
            )
        ctx.log(f"no dialog host on this agent: '{request.title}' answered with its default")
        return default
    try:
        return await asyncio.wait_for(host.ask(request), params.timeout_s)
    except TimeoutError:
        if default is _NO_DEFAULT:
            raise StepError(
                f"nobody answered dialog '{request.title}' within {params.timeout_s:g} s",
                kind="dialog_timeout",
                retryable=False,
            ) from None
        ctx.log(f"no answer to '{request.title}' within {params.timeout_s:g} s: its default is used")
        return default
    except DialogCancelled:
        raise BusinessError(f"the person cancelled dialog '{request.title}'", kind="dialog_cancelled") from None


def _request(params: _Dialog, kind: Any, **extra: Any) -> DialogRequest:
    ctx = context()
    return DialogRequest(
        kind=kind,
        title=params.title or "Robot",
        message=params.message,
        timeout_s=params.timeout_s,
        execution_id=ctx.execution_id,
        path=ctx.path,
        **extra,
    )


def _default(value: Any) -> Any:
    return _NO_DEFAULT if value is None else value


def _invalid(title: str, problems: list[str]) -> StepError:
    return StepError(f"the answer to '{title}' is not valid: {'; '.join(problems)}", kind="invalid_answer")


@step("dialog.message", params=MessageParams, output="None, once the person acknowledged it.")
async def message(params: MessageParams) -> None:
    """Show a message and wait until the person acknowledges it.

    Example node: `{"id": "done", "type": "dialog.message", "params": {"message": "Invoices sent."}}`
    """
    await _ask(params, _request(params, "message"), _default(params.default))


@step("dialog.confirm", params=ConfirmParams, output="True for yes, False for no.")
async def confirm(params: ConfirmParams) -> bool:
    """Ask a yes/no question.

    Example node: `{"id": "ok", "type": "dialog.confirm", "params": {"message": "Send 12 invoices?"}}`
    """
    answer = await _ask(params, _request(params, "confirm"), _default(params.default))
    if not isinstance(answer, bool):
        raise _invalid(params.title, ["must be true or false"])
    return answer


@step("dialog.input", params=InputParams, output="The answers, by field name.")
async def input_form(params: InputParams) -> dict[str, Any]:
    """Ask for values in a form (text, password, number, date, choice, checkbox, file), checked.

    Password answers are masked in the journal and the logs (the output keeps them for the run).

    Example node: `{"id": "ask", "type": "dialog.input", "params": {"fields": [{"name": "month",
    "type": "date", "required": true}]}}`
    """
    specs = tuple(f.spec() for f in params.fields)
    answer = await _ask(params, _request(params, "input", fields=specs), _default(params.default))
    problems = check_answers(specs, answer)
    if problems:
        raise _invalid(params.title, problems)
    result = {spec.name: answer.get(spec.name) for spec in specs}
    for spec in specs:
        value = result[spec.name]
        if spec.type == "password" and isinstance(value, str) and value:
            context().add_secret(value)
    return result


def _path(params: ChooseFileParams | ChooseFolderParams, answer: Any, folder: bool) -> str:
    if not isinstance(answer, str) or not answer:
        raise _invalid(params.title, ["must be a path"])
    if params.must_exist:
        target = Path(answer)
        if folder and not target.is_dir():
            raise _invalid(params.title, [f"{answer} is not an existing folder"])
        if not folder and not target.is_file():
            raise _invalid(params.title, [f"{answer} is not an existing file"])
    return answer


@step("dialog.choose_file", params=ChooseFileParams, output="The chosen file's path.")
async def choose_file(params: ChooseFileParams) -> str:
    """Let the person choose a file.

    Example node: `{"id": "pick", "type": "dialog.choose_file", "params": {"filters": ["*.xlsx"]}}`
    """
    request = _request(params, "choose_file", filters=tuple(params.filters))
    return _path(params, await _ask(params, request, _default(params.default)), folder=False)


@step("dialog.choose_folder", params=ChooseFolderParams, output="The chosen folder's path.")
async def choose_folder(params: ChooseFolderParams) -> str:
    """Let the person choose a folder.

    Example node: `{"id": "out", "type": "dialog.choose_folder", "params": {"title": "Save to"}}`
    """
    return _path(params, await _ask(params, _request(params, "choose_folder"), _default(params.default)), folder=True)


@step("dialog.select", params=SelectParams, output="The chosen option, or a list of them when multiple.")
async def select(params: SelectParams) -> str | list[str]:
    """Let the person choose from a list.

    Example node: `{"id": "region", "type": "dialog.select", "params": {"options": ["EU", "US"]}}`
    """
    request = _request(params, "select", options=tuple(params.options), multiple=params.multiple)
    answer = await _ask(params, request, _default(params.default))
    chosen = answer if isinstance(answer, list) else [answer]
    wrong = [str(c) for c in chosen if c not in params.options]
    if wrong or (not params.multiple and isinstance(answer, list)):
        raise _invalid(params.title, [f"not an option: {', '.join(wrong)}" if wrong else "choose one option"])
    return list(chosen) if params.multiple else chosen[0]


@step("dialog.review_table", params=ReviewTableParams, output="The table as reviewed (edited when editable).")
async def review_table(params: ReviewTableParams) -> list[dict[str, Any]]:
    """Show a table for review (and edit, when `editable`); the output is the table to go on with.

    Example node: `{"id": "check", "type": "dialog.review_table", "params": {"table":
    "{{ steps.read.output }}", "editable": true}}`
    """
    table = check_table(params.table, "table")
    request = _request(params, "review_table", table=[dict(r) for r in table], editable=params.editable)
    answer = await _ask(params, request, table if params.default == "accept" else _NO_DEFAULT)
    reviewed = check_table(answer, "the reviewed table")
    if not params.editable and reviewed != table:
        raise _invalid(params.title, ["the table is not editable, but came back changed"])
    return [dict(r) for r in reviewed]


DIALOG_STEPS = (message, confirm, input_form, choose_file, choose_folder, select, review_table)
