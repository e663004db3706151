"""Waiting, JavaScript, dialogs and downloads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from agent.steps.browser._acting import acting
from agent.steps.browser._models import PageParams
from agent.steps.browser._session import DialogPlan, current_session
from agent.steps.browser._targets import Target
from shared.errors import StepError
from shared.steps import context, step

__all__ = ["download", "evaluate", "handle_dialog", "wait"]

_WAIT_KINDS = ("target", "text", "url", "load_state", "js")


class WaitParams(PageParams):
    """Params of `browser.wait`: exactly one of target, text, url, load_state or js."""

    target: Target | None = Field(None, description="Wait for this element to reach `state`.")
    state: Literal["visible", "hidden", "attached", "detached"] = Field(
        "visible", description="The element state to wait for (with `target`)."
    )
    text: str | None = Field(None, description="Wait until this text is visible on the page (or in `target`).")
    url: str | None = Field(None, description="Wait until the URL matches this glob, e.g. `**/done*`.")
    load_state: Literal["load", "domcontentloaded", "networkidle"] | None = Field(
        None, description="Wait for a load state; `networkidle` = no request for 500 ms."
    )
    js: str | None = Field(None, description="Wait until this JavaScript expression is truthy, e.g. `window.ready`.")

    @model_validator(mode="after")
    def _one_condition(self) -> WaitParams:
        given = [k for k in ("text", "url", "load_state", "js") if getattr(self, k) is not None]
        if not given and self.target is None:
            raise ValueError(f"give one condition: {', '.join(_WAIT_KINDS)}")
        if len(given) > 1 or (self.target is not None and given and given != ["text"]):
            raise ValueError("give only one condition (target may be combined with text)")
        return self


@step("browser.wait", params=WaitParams, output="{url, title} once the condition holds.", capability="browser")
async def wait(params: WaitParams) -> dict[str, Any]:
    """Wait for an element state, a text, a URL, a load state (network idle) or a JS condition.

    A condition that does not hold within `timeout_s` fails with kind `timeout` (retryable).

    Example nodes:
        {"id": "ready", "type": "browser.wait", "params": {"target": "#late-button"}}
        {"id": "done", "type": "browser.wait", "params": {"url": "**/confirmation*", "timeout_s": 60}}
        {"id": "idle", "type": "browser.wait", "params": {"load_state": "networkidle"}}
    """
    timeout = params.timeout_s * 1000
    async with acting(params, "wait") as act:
        if params.text is not None:
            scope = (await act.find(params.target, state="attached")).locator if params.target else act.scope
            await scope.get_by_text(params.text).first.wait_for(state="visible", timeout=timeout)
        elif params.target is not None:
            found = await act.find(params.target, state=params.state, lazy=False)
            if params.state in ("hidden", "detached"):
                await found.locator.wait_for(state=params.state, timeout=timeout)
        elif params.url is not None:
            await act.page.wait_for_url(params.url, timeout=timeout)
        elif params.load_state is not None:
            await act.scope.wait_for_load_state(params.load_state, timeout=timeout)
        else:
            await act.scope.wait_for_function(params.js, timeout=timeout)
        info = {"url": act.page.url, "title": await act.page.title()}
    return info


class EvaluateParams(PageParams):
    """Params of `browser.evaluate`."""

    script: str = Field(
        description="A JavaScript expression or function, e.g. `document.title` or `(arg) => arg.n * 2`."
    )
    arg: Any = Field(None, description="A JSON value passed to a function script.")
    target: Target | None = Field(None, description="Run it on this element: the function's first argument.")


@step("browser.evaluate", params=EvaluateParams, output="The script's result (JSON).", capability="browser")
async def evaluate(params: EvaluateParams) -> Any:
    """Run JavaScript in the page (or on one element) and return its JSON result.

    Example node:
        {"id": "count", "type": "browser.evaluate", "params": {"script": "document.querySelectorAll('tr').length"}}
    """
    async with acting(params, "evaluate a script") as act:
        if params.target is not None:
            found = await act.find(params.target, state="attached")
            result = await found.locator.evaluate(params.script, params.arg, timeout=params.timeout_s * 1000)
        else:
            result = await act.scope.evaluate(params.script, params.arg)
    return result


class DialogParams(PageParams):
    """Params of `browser.handle_dialog`."""

    action: Literal["accept", "dismiss"] = Field("accept", description="Press OK (accept) or Cancel (dismiss).")
    prompt_text: str | None = Field(None, description="The text to answer a `prompt()` with.")
    once: bool = Field(True, description="Only the next dialog; false = every dialog from now on.")


@step("browser.handle_dialog", params=DialogParams, output="None", capability="browser")
async def handle_dialog(params: DialogParams) -> None:
    """Say how to answer the next alert, confirm or prompt; put it BEFORE the step that opens it.

    Without a plan, a dialog is dismissed. Each dialog seen is logged with its type and message.

    Example node:
        {"id": "ok_delete", "type": "browser.handle_dialog", "params": {"action": "accept"}}
    """
    session = await current_session(params.session)
    session.dialog_plans.append(DialogPlan(action=params.action, prompt_text=params.prompt_text, once=params.once))


class DownloadParams(PageParams):
    """Params of `browser.download`."""

    target: Target | None = Field(None, description="Click this element to start the download.")
    save_as: str | None = Field(
        None,
        description="Where to save: a file path, or a folder (ends with `/`); default the session's downloads folder.",
    )
    artifact: bool = Field(True, description="Also keep the file as an artifact of the execution.")


def _destination(params: DownloadParams, suggested: str, downloads_dir: str | None) -> Path:
    name = re.sub(r"[\\/\x00]", "_", suggested) or "download"
    if params.save_as:
        given = Path(params.save_as).expanduser()
        if params.save_as.endswith(("/", "\\")) or given.is_dir():
            return given / name
        return given
    if downloads_dir:
        return Path(downloads_dir).expanduser() / name
    return context().artifacts_dir / "downloads" / name


@step("browser.download", params=DownloadParams, output="{path, name, size, url, artifact}", capability="browser")
async def download(params: DownloadParams) -> dict[str, Any]:
    """Click something that starts a download (or wait for one) and save the file.

    Example node:
        {"id": "report", "type": "browser.download", "params": {"target": "text=Report (CSV)", "save_as": "out/"}}
    """
    async with acting(params, "download") as act:
        async with act.page.expect_download(timeout=params.timeout_s * 1000) as waiting:
            if params.target is not None:
                found = await act.find(params.target)
                await found.locator.click(timeout=params.timeout_s * 1000)
        item = await waiting.value
        failure = await item.failure()
        if failure:
            raise StepError(f"the download of {item.url} failed: {failure}", kind="download", retryable=True)
        path = _destination(params, item.suggested_filename, act.session.options.downloads_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        await item.save_as(path)
    result: dict[str, Any] = {"path": str(path), "name": path.name, "size": path.stat().st_size, "url": item.url}
    result["artifact"] = context().save_artifact(path.name, path)["artifact"] if params.artifact else None
    return result
