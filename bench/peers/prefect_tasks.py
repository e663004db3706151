"""Time N trivial Prefect 3 tasks run sequentially inside one flow.

Run with the peers' interpreter (see bench/requirements-peers.txt):

    python bench/peers/prefect_tasks.py --tasks 1000

Prefect runs against its local ephemeral API server (a uvicorn subprocess bound to
127.0.0.1, SQLite database) under a throw-away PREFECT_HOME, with analytics and
telemetry off. A small warm-up flow (not timed) starts the server and runs its
database migrations; then one flow calls ``increment`` N times in a row and is timed.

Exactly one JSON line goes to stdout; Prefect's own output goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WARMUP_TASKS = 10
PERSIST_TIMEOUT_S = 120.0


def _configure_environment(home: Path) -> None:
    # Prefect reads its settings once at import time, so this must run before the first
    # ``import prefect``. Values set outside are overridden on purpose: the measurement
    # must not depend on the caller's profile, nor touch ~/.prefect or a remote API.
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
            # Migrating a fresh SQLite file on a small, busy machine can exceed the 20 s default.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
            "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
            # Only the console handler is quietened: run and task logs are still shipped to the
            # API at Prefect's default level, as they would be for any user.
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }
    )
    # The ephemeral server is reached over 127.0.0.1; a proxy from the environment must not
    # intercept that traffic.
    loopback = "127.0.0.1,localhost,::1"
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name)
        os.environ[name] = f"{current},{loopback}" if current else loopback


def _peak_rss_mib_of(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _ephemeral_server_pid() -> int | None:
    # Private API: the ephemeral server object is a per-port singleton. Reading it is only
    # used to report the server's memory, so any change in Prefect just drops that field.
    try:
        from prefect.server.api.server import SubprocessASGIServer

        for server in SubprocessASGIServer._instances.values():
            if server.server_process is not None:
                return server.server_process.pid
    except (ImportError, AttributeError):
        pass
    return None


def _stop_ephemeral_server() -> None:
    try:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()
    except (ImportError, AttributeError):
        pass


def _drain_client_workers() -> None:
    # Task-run states and logs leave the client through background workers; waiting for
    # them keeps the server from being stopped under their feet.
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=PERSIST_TIMEOUT_S)
    EventsWorker.drain_all(timeout=PERSIST_TIMEOUT_S)


def _wait_until_recorded(flow_run_id: str, n_tasks: int) -> bool:
    # Prefect 3 reports task-run states to the server as events that a server-side service
    # writes to the database later, so a flow can return before its tasks are recorded.
    from prefect.client.orchestration import get_client

    query = {
        "flow_runs": {"id": {"any_": [flow_run_id]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    deadline = time.monotonic() + PERSIST_TIMEOUT_S
    with get_client(sync_client=True) as client:
        while True:
            response = client.request("POST", "/task_runs/count", json=query)
            response.raise_for_status()
            if response.json() >= n_tasks:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _run(n_tasks: int) -> dict[str, Any]:
    import prefect
    from prefect import flow, task

    @task
    def increment(x: int) -> int:
        return x + 1

    @flow
    def sequential(n: int) -> int:
        value = 0
        for _ in range(n):
            value = increment(value)
        return value

    warmup = sequential(WARMUP_TASKS, return_state=True)
    if warmup.result() != WARMUP_TASKS:
        raise RuntimeError("warm-up flow returned a wrong result")
    _drain_client_workers()
    _wait_until_recorded(str(warmup.state_details.flow_run_id), WARMUP_TASKS)

    start = time.perf_counter()
    state = sequential(n_tasks, return_state=True)
    total_s = time.perf_counter() - start
    result = state.result()
    if result != n_tasks:
        raise RuntimeError(f"flow returned {result}, expected {n_tasks}")
    _drain_client_workers()
    recorded = _wait_until_recorded(str(state.state_details.flow_run_id), n_tasks)
    recorded_s = time.perf_counter() - start

    report: dict[str, Any] = {
        "peer": "prefect",
        "version": prefect.__version__,
        "mode": "tasks",
        "tasks": n_tasks,
        "total_s": round(total_s, 3),
        "per_task_ms": round(total_s * 1000 / n_tasks, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "server_process": "subprocess",
        # Time until the server had every task run stored as COMPLETED; None if it had
        # not after PERSIST_TIMEOUT_S.
        "recorded_s": round(recorded_s, 3) if recorded else None,
    }
    server_pid = _ephemeral_server_pid()
    if server_pid is not None:
        report["server_peak_rss_mib"] = _peak_rss_mib_of(server_pid)
    return report


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    # Turn SIGTERM into an exception so the ephemeral server is stopped and the temporary
    # home removed when a harness times this script out.
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="number of sequential tasks to time")
    args = parser.parse_args()
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")

    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    home = Path(tempfile.mkdtemp(prefix="prefect-bench-"))
    _configure_environment(home)
    # Anything Prefect or its server subprocess writes to stdout would corrupt the single
    # JSON line, so file descriptor 1 points at stderr until the report is printed.
    sys.stdout.flush()
    real_stdout_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        report = _run(args.tasks)
    finally:
        _stop_ephemeral_server()
        sys.stdout.flush()
        os.dup2(real_stdout_fd, 1)
        os.close(real_stdout_fd)
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
