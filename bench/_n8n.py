#!/usr/bin/env python3
"""n8n, the peer of the webhook benchmark, installed and run on this machine.

    .venv/bin/python bench/_n8n.py [--calls 3000] [--wait-calls 1000] [--clients 32]
                                   [--out bench/results/triggers_n8n.json]

`bench/triggers.py --n8n` calls `run(args, calls)` after its own part, with its own load
generator (`triggers._calls`: raw keep-alive HTTP/1.1 requests built before the clock starts,
over `--clients` connections), so both servers get exactly the same calls.

- Install: n8n `VERSION` with npm into `~/.cache/rpa-bench/n8n` (`BENCH_N8N_DIR` to change it),
  outside the repository, the first time it is missing. n8n 2.x needs Node 24; 1.x says Node
  20.19-24, but from 1.123.66 on it depends on `@n8n/expression-runtime`, whose `isolated-vm`
  6.2 needs Node 22's V8 and does not compile on Node 20, so 1.123.50 is the newest 1.x that
  installs here. n8n asks for `xlsx` as a tarball on cdn.sheetjs.com, which this machine cannot
  reach: the folder's package.json overrides it with the registry's `xlsx@0.18.5` (only the
  spreadsheet nodes use it; the benchmark does not). Native modules (sqlite3) find no prebuilt
  binary (GitHub is not reachable either) and are compiled by node-gyp with g++ against the
  headers of the installed Node (`/usr/include/node`, Debian's `nodejs`/`libnode-dev`), given as
  `npm_config_nodedir`: node-gyp would otherwise download them from nodejs.org.
- Start: `n8n start` with its own `N8N_USER_FOLDER` in a temporary folder, SQLite in WAL mode
  with 2 read connections (`DB_SQLITE_POOL_SIZE=2`, what n8n recommends; our server's SQLite runs
  in WAL mode too), on 127.0.0.1 and a free port, `EXECUTIONS_MODE=regular` (executions run in
  the main process), diagnostics, version notifications, templates and personalization off, task
  runners off. n8n's defaults for saving execution data are kept: every execution, its data
  included, is stored (we store every execution too).
- Workflows, made without the UI (`n8n import:workflow`, then `n8n update:workflow --active=true`
  before the server starts): a Webhook node (POST) followed by a Set node that maps
  `body.customer` into its output, like our trigger's input mapping:
  - "accepted": `responseMode: onReceived`, answered at once, like our 202 mode;
  - "wait": `responseMode: lastNode`, answered with the Set node's output once the workflow
    finished, like our wait mode.
- Measured: calls/s from the first to the last answer, p50/p99 per call, and the cores n8n's
  process tree used over the calls (psutil, `triggers._Cpu`). After the calls, the executions
  n8n stored are counted in its SQLite file (new rows, less the 20 warm-up calls) once none is
  still running.

n8n is stopped by its PID at the end (SIGTERM, then SIGKILL of what is left of its tree).
`BENCH_N8N_ENV_<NAME>=<value>` passes NAME=value to n8n (e.g. `BENCH_N8N_ENV_DB_SQLITE_POOL_SIZE=0`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
VERSION = "1.123.50"
CACHE = Path(os.environ.get("BENCH_N8N_DIR", Path.home() / ".cache" / "rpa-bench" / "n8n"))
# n8n 1.x's engines field: ">=20.19 <= 24.x".
NODE_MAJORS = range(20, 25)
WARM_CALLS = 20  # the warm-up calls `triggers._calls` sends before its clock starts
HOOKS = {"accepted": "onReceived", "wait": "lastNode"}

Calls = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node() -> str:
    """The `node` binary, checked to be a version n8n 1.x runs on."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("the n8n peer needs Node.js 20-24 (`node` is not on PATH; Debian: apt-get install nodejs)")
    version = subprocess.run([node, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) not in NODE_MAJORS:
        raise SystemExit(f"n8n {VERSION} needs Node.js 20.19-24; `node --version` says {version}")
    return node


def _installed(cache: Path) -> str | None:
    package = cache / "node_modules" / "n8n" / "package.json"
    return str(json.loads(package.read_text())["version"]) if package.exists() else None


def install(cache: Path = CACHE) -> Path:
    """n8n `VERSION` in `cache` (installed with npm when missing); the path of its `bin/n8n`.

    Raises:
        SystemExit: node or npm is missing, or `npm install` failed (its output's tail is quoted).
    """
    _node()
    if _installed(cache) != VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("the n8n peer is installed with npm, which is not on PATH (Debian: apt-get install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        manifest = {
            "name": "rpa-bench-n8n",
            "private": True,
            "dependencies": {"n8n": VERSION},
            # n8n asks for xlsx from cdn.sheetjs.com, which is not reachable from here.
            "overrides": {"xlsx": "0.18.5"},
        }
        (cache / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"installing n8n {VERSION} into {cache} with npm (a few minutes, once)", file=sys.stderr)
        env = dict(os.environ)
        if Path("/usr/include/node/node_version.h").exists():
            env.setdefault("npm_config_nodedir", "/usr")
        done = subprocess.run(
            [npm, "install", "--omit=dev", "--no-audit", "--no-fund"],
            cwd=cache,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or _installed(cache) != VERSION:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise SystemExit(f"npm install of n8n {VERSION} in {cache} failed:\n{tail}")
    return cache / "node_modules" / "n8n" / "bin" / "n8n"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bench-n8n/" + "/".join(parts)))


def _workflow(name: str, mode: str) -> dict[str, Any]:
    """A Webhook (POST /webhook/<name>, answering per `mode`) → Set workflow, active."""
    return {
        "name": f"Hooked {name}",
        "active": True,
        "settings": {"executionOrder": "v1"},
        "connections": {"Webhook": {"main": [[{"node": "Map", "type": "main", "index": 0}]]}},
        "nodes": [
            {
                "id": _uuid(name, "webhook"),
                "name": "Webhook",
                "type": "n8n-nodes-base.webhook",
                "typeVersion": 2,
                "position": [0, 0],
                "webhookId": _uuid(name, "hook"),
                "parameters": {"httpMethod": "POST", "path": name, "responseMode": mode, "options": {}},
            },
            {
                "id": _uuid(name, "map"),
                "name": "Map",
                "type": "n8n-nodes-base.set",
                "typeVersion": 3.4,
                "position": [220, 0],
                "parameters": {
                    "assignments": {
                        "assignments": [
                            {
                                "id": "customer",
                                "name": "customer",
                                "value": "={{ $json.body.customer }}",
                                "type": "string",
                            }
                        ]
                    },
                    "options": {},
                },
            },
        ],
    }


class N8n:
    """One n8n server on loopback with the two benchmark workflows; `url` and `process` are what
    `triggers._calls` and `triggers._Cpu` read."""

    def __init__(self, binary: Path, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "n8n.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("N8N_", "DB_", "EXECUTIONS_"))},
            "N8N_USER_FOLDER": str(root),
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_HOST": "127.0.0.1",
            "WEBHOOK_URL": self.url + "/",
            "DB_TYPE": "sqlite",
            # WAL and 2 read connections, what n8n recommends (0, its default in 1.x, is deprecated:
            # one connection in rollback-journal mode); BENCH_N8N_ENV_DB_SQLITE_POOL_SIZE=0 for that.
            "DB_SQLITE_POOL_SIZE": "2",
            "EXECUTIONS_MODE": "regular",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_RUNNERS_ENABLED": "false",
            "N8N_RUNNERS_BROKER_PORT": str(_free_port()),
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
            "N8N_LOG_LEVEL": "info",  # for "Editor is now accessible", written once workflows are active
            "NODE_ENV": "production",
        }
        for name in [n for n in os.environ if n.startswith("BENCH_N8N_ENV_")]:  # e.g. BENCH_N8N_ENV_DB_SQLITE_POOL_SIZE
            self.env[name.removeprefix("BENCH_N8N_ENV_")] = os.environ[name]

    @property
    def database(self) -> Path:
        return self.root / ".n8n" / "database.sqlite"

    def _cli(self, *args: str) -> None:
        with open(self.log, "ab") as out:
            done = subprocess.run(
                [_node(), str(self.binary), *args], stdout=out, stderr=subprocess.STDOUT, env=self.env, timeout=300
            )
        if done.returncode != 0:
            raise SystemExit(f"`n8n {' '.join(args)}` failed ({done.returncode}); see {self.log}")

    def start(self, timeout: float = 180) -> None:
        """Import and activate the workflows, start the server, wait until both hooks answer."""
        flows = self.root / "flows"
        flows.mkdir(parents=True, exist_ok=True)
        for name, mode in HOOKS.items():
            (flows / f"{name}.json").write_text(json.dumps(_workflow(name, mode)))
        self._cli("import:workflow", "--separate", f"--input={flows}")
        self._cli("update:workflow", "--all", "--active=true")
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [_node(), str(self.binary), "start"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        # The hooks are called only once n8n says it activated the workflows: in runs where they
        # were called (answered 404) during a slow start-up, n8n later answered part or all of the
        # calls to one hook with Express's 404 (bench/README.md).
        self._wait(deadline, "its start-up", lambda: b"Editor is now accessible via" in self.log.read_bytes())
        for name in HOOKS:
            self._wait(deadline, f"webhook {name!r}", lambda name=name: self._answers(name))  # type: ignore[misc]

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        assert self.process is not None
        while not ready():
            if self.process.poll() is not None:
                raise SystemExit(f"n8n exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"n8n: {what} did not end in time; see {self.log}")
            time.sleep(0.5)

    def hook(self, name: str) -> str:
        """The URL path of the production webhook `name`."""
        return f"/webhook/{name}"

    def answer(self, name: str) -> tuple[int, str]:
        """The status and body of one call to hook `name` (0 and the error when none came)."""
        request = urllib.request.Request(
            self.url + self.hook(name), data=b'{"customer":"probe"}', headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status), answer.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return 0, str(error)

    def _answers(self, name: str) -> bool:
        return self.answer(name)[0] == 200

    def executions(self) -> dict[str, dict[str, int]]:
        """Stored executions per workflow name and status (read from n8n's SQLite file)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)) as db:
            rows = db.execute(
                "SELECT w.name, e.status, count(*) FROM execution_entity e"
                ' JOIN workflow_entity w ON w.id = e."workflowId" GROUP BY w.name, e.status'
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for workflow, status, count in rows:
            counts.setdefault(workflow, {})[status] = count
        return counts

    def settled(self, name: str, timeout: float = 120) -> dict[str, int]:
        """Workflow `name`'s executions per status once none is new or running."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.executions().get(f"Hooked {name}", {})
            if not counts.get("new") and not counts.get("running"):
                return counts
            if time.monotonic() > deadline:
                raise SystemExit(f"n8n's {name!r} executions still running after {timeout:g} s: {counts}")
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to n8n; after `timeout` s, SIGKILL to it and every child it left."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


@contextlib.contextmanager
def _refusals(into: list[tuple[int, str]]) -> Iterator[None]:
    """The first answers other than 200 that `_dispatch_load.RawHttp` reads (status, body), into
    `into` (`triggers._calls` keeps only the statuses)."""
    from _dispatch_load import RawHttp

    original = RawHttp.request

    async def request(self: RawHttp, data: bytes) -> tuple[int, bytes]:
        status, body = await original(self, data)
        if status != 200 and len(into) < 3:
            into.append((status, body[:300].decode(errors="replace")))
        return status, body

    RawHttp.request = request  # type: ignore[method-assign]
    try:
        yield
    finally:
        RawHttp.request = original  # type: ignore[method-assign]


def _measure(server: N8n, name: str, calls: Calls, count: int, clients: int) -> dict[str, Any]:
    """`count` calls to hook `name` (and the executions they left in n8n's database)."""
    before = sum(server.settled(name).values())
    refused: list[tuple[int, str]] = []
    with _refusals(refused):
        result = asyncio.run(calls(server, server.hook(name), count, clients))
    result["refused"] = refused
    stored = server.settled(name)
    if set(result["statuses"]) != {200}:
        result["answer_after"] = server.answer(name)
    result["stored"] = sum(stored.values()) - before - WARM_CALLS
    result["stored_statuses"] = stored
    result["completed_per_s"] = result["per_s"] * result["statuses"].get(200, 0) / result["calls"]
    return result


def run(args: argparse.Namespace, calls: Calls) -> dict[str, Any]:
    """n8n's accepted (`args.calls`) and wait-mode (`args.wait_calls`) rows, `calls` being
    `triggers._calls`."""
    binary = install()
    root = Path(tempfile.mkdtemp(prefix="bench-triggers-n8n-"))
    server = N8n(binary, root)
    try:
        server.start()
        accepted = _measure(server, "accepted", calls, args.calls, args.clients)
        wait = _measure(server, "wait", calls, args.wait_calls, getattr(args, "wait_clients", args.clients))
    finally:
        server.stop()
    if any(set(r["statuses"]) != {200} for r in (accepted, wait)):
        print(f"n8n answered other than 200 (see the statuses); its folder and log stay in {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "version": VERSION,
        "database": "sqlite",
        "sqlite_pool_size": server.env["DB_SQLITE_POOL_SIZE"],
        "load_average": os.getloadavg(),
        "accepted": accepted,
        "wait": wait,
    }


def report(results: list[dict[str, Any]], n8n: dict[str, Any]) -> None:
    """Our SQLite rows next to n8n's, and the ratios ours / n8n.

    n8n's rates and ours in wait mode count only the answers with a 200 (ours in 202 mode: every
    call, all checked 202). Cores: the server's, plus the agent's for ours in wait mode (n8n runs
    the workflows in its own process)."""
    ours = next((r for r in results if r["database"] == "sqlite" and r["code"] == "current"), None)
    print(f"\n{'server':<14} {'mode':<9} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cores':>6} {'answers':>18}")
    rows = [("n8n " + n8n["version"], n8n)] + ([("ours (sqlite)", ours)] if ours else [])
    for label, result in rows:
        for mode in ("accepted", "wait"):
            if mode not in result:
                continue
            r = result[mode]
            rate = r["completed_per_s"] if "version" in result or mode == "wait" else r["per_s"]
            print(
                f"{label:<14} {mode:<9} {rate:>8.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
                f"{r['server_cores'] + r['agent_cores']:>6.2f} {json.dumps(r['statuses']):>18}"
            )
    if ours is None:
        return
    for mode, key in (("accepted", "per_s"), ("wait", "completed_per_s")):
        if mode in ours and n8n[mode]["completed_per_s"]:
            print(f"ours / n8n, {mode}: {ours[mode][key] / n8n[mode]['completed_per_s']:.1f}x calls/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--wait-calls", type=int, default=1000, help="calls in wait mode")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--wait-clients", type=int, default=96, help="connections in wait mode")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triggers_n8n.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from triggers import _calls

    n8n = run(args, _calls)
    report([], n8n)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"n8n": n8n}, indent=2, default=str))


if __name__ == "__main__":
    main()
