"""`rpa trigger …` against the orchestrator on a loopback socket, through `shared.client`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from cli._app import _add_client_commands
from cli._app import app as cli_app
from shared.client._session import Session, save_session
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import executions_of, workflow


async def test_the_cli_creates_lists_fires_pauses_and_deletes_a_trigger(
    app: FastAPI, live: httpx.AsyncClient, tenant: TenantFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id, "Cli Flow")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    save_session(Session(str(live.base_url), owner.refresh_token))
    _add_client_commands()
    runner = CliRunner()

    async def rpa(*args: str) -> str:
        result = await asyncio.to_thread(runner.invoke, cli_app, ["trigger", *args])
        assert result.exit_code == 0, result.output
        return result.output

    created = await rpa(
        "create", "Cli Flow", "webhook", "--name", "orders", "--inputs", '{"customer": "{{ event.body.who }}"}'
    )
    trigger_id = created.split()[0]
    url = next(line.split(" ", 1)[1] for line in created.splitlines() if line.startswith("url: "))
    assert (await live.post(url, json={"who": "CLI Co"})).status_code == 202
    assert "fired 1x" in await rpa("list", "Cli Flow")
    fired = await rpa("fire", trigger_id, "--payload", '{"body": {"who": "By Hand"}}', "--key", "k1")
    assert fired.startswith("started: execution ")
    assert "(seen before)" in await rpa("fire", trigger_id, "--payload", "{}", "--key", "k1")
    assert " off " in await rpa("pause", trigger_id)
    assert " on " in await rpa("resume", trigger_id)
    shown = json.loads(await rpa("show", trigger_id))
    assert shown["state"]["fire_count"] == 2
    await rpa("delete", trigger_id)
    assert (await rpa("list")).strip() == ""
    customers = sorted(e.inputs["customer"] for e in await executions_of(app, owner.org_id, workflow_id))
    assert customers == ["By Hand", "CLI Co"]
