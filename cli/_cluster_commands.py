"""`rpa up` and `rpa demo`: an orchestrator and agents on this machine, supervised as child
processes by `cli.supervise`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._console import fail, out
from shared.client import ApiError


def up(
    port: Annotated[int, typer.Option(help="The orchestrator's port.")] = 8400,
    data_dir: Annotated[Path | None, typer.Option(help="Default: ~/.local/share/rpa-up")] = None,
    max_jobs: Annotated[int, typer.Option("--max-jobs", min=1, help="Jobs the local agent runs at once.")] = 2,
    startup_timeout: Annotated[
        float,
        typer.Option("--startup-timeout", min=0, help="Seconds the orchestrator, then the agent, each get to come up."),
    ] = 60,
) -> None:
    """An orchestrator on embedded SQLite and one local agent; Ctrl-C stops both.

    The first start makes an owner (`admin@rpa.localhost`, password in DATA_DIR/admin.json, mode
    0600), enrols the agent, and logs this machine's `rpa` in, so `rpa exec …` works at once.
    """
    from cli.supervise import LocalAgent, LocalOrchestrator, SupervisionError, new_password

    root = (data_dir or Path.home() / ".local" / "share" / "rpa-up").expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    orchestrator = LocalOrchestrator(root / "orchestrator", port=port, log=root / "orchestrator.log")
    admin = root / "admin.json"
    agent: LocalAgent | None = None
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        orchestrator.start(timeout=startup_timeout)
        if admin.exists():
            saved = json.loads(admin.read_text())
            orchestrator.client.login(saved["email"], saved["password"])
        else:
            password = new_password()
            orchestrator.create_owner("admin@rpa.localhost", password)
            admin.touch(mode=0o600)
            admin.write_text(json.dumps({"email": "admin@rpa.localhost", "password": password}))
        orchestrator.client.save_session()
        agent = LocalAgent(orchestrator, root / "agent", "local", max_jobs=max_jobs)
        agent.start()
        agent.wait_online(orchestrator.client, timeout=startup_timeout)
        out.print(
            f"orchestrator on {orchestrator.url} (API docs at {orchestrator.url}/docs), agent 'local' online;"
            f" owner admin@rpa.localhost (password in {admin}); logs in {root}. Ctrl-C stops.",
            highlight=False,
        )
        while not stopping and orchestrator.running and agent.running:
            time.sleep(0.5)
    except (SupervisionError, ApiError) as error:
        # A start-up timeout names what did not come up and its log; a child that died quotes its log.
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        pass
    finally:
        if agent is not None:
            agent.stop()
        orchestrator.stop()
        out.print("stopped")


def demo(
    flows_dir: Annotated[Path | None, typer.Option(help="Folder of demo flows.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Run the flows in this process (no orchestrator).")] = False,
) -> None:
    """Run the bundled demo flows end to end and print a summary: an orchestrator and two agents
    on this machine (or, with --local, the engine alone)."""
    if local:
        from cli._demo import run_demo

        raise typer.Exit(run_demo(out, flows_dir))
    from cli._demo_cluster import run_cluster_demo

    raise typer.Exit(run_cluster_demo(out, flows_dir))
