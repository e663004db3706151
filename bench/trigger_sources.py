#!/usr/bin/env python3
"""Trigger sources benchmark: from a change at the source to the event handed to the framework.

    .venv/bin/python bench/trigger_sources.py [--quick] [--samples N] [--sections email,files,postgres]
                                              [--out bench/results/trigger_sources.json]

Each section runs one of our sources and, in the same run, the same source in its polling form
every 1 s (the peer), and measures N changes made one at a time (a random pause of 0-1 s
between them, so a poll phase is not always the same):

- email: a message sent over SMTP (aiosmtpd, delivering into the server) until its event, with
  IMAP IDLE and with polling every 1 s; on pymap (IMAP APPEND) and Dovecot (maildir delivery).
- files: a file written into a local folder until its event, watchfiles against polling every 1 s.
- postgres: a row inserted until its event, LISTEN/NOTIFY on the change log against watermark
  polling every 1 s (SQLAlchemy on the same table).

It prints p50/p95 per source and the ratio peer p50 / ours p50, and writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.triggers.sources import SourceContext, SourceEvent  # noqa: E402
from orchestrator.triggers.sources._pgcapture import install_change_capture  # noqa: E402
from orchestrator.triggers.sources.database import DatabaseSource, DatabaseSourceConfig  # noqa: E402
from orchestrator.triggers.sources.email import EmailSource, EmailSourceConfig  # noqa: E402
from orchestrator.triggers.sources.files import FilesSource, FilesSourceConfig  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "trigger_sources.json"
TARGET_S = 1.0


class _Cursor:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    async def load(self) -> dict[str, Any]:
        return dict(self.state)

    async def save(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


class Run:
    """One source running, with the time each event arrived."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.arrived: list[float] = []
        self.statuses: list[str] = []
        self.stop = asyncio.Event()
        self.secrets = secrets or {}
        self.task: asyncio.Task[None] | None = None

    async def _emit(self, event: SourceEvent) -> bool:
        self.arrived.append(time.perf_counter())
        return True

    async def _secret(self, name: str) -> str:
        return self.secrets[name]

    async def start(self, source: Any, config: Any, ready: str) -> None:
        ctx = SourceContext("bench", self._emit, _Cursor(), self._secret, self.statuses.append, self.stop)
        self.task = asyncio.create_task(source.run(config, ctx))
        while not any(s.startswith(ready) for s in self.statuses):
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    async def measure(self, change: Callable[[int], Awaitable[None]], samples: int) -> list[float]:
        """Latency of each of `samples` changes, one at a time."""
        latencies = []
        for index in range(samples):
            await asyncio.sleep(random.uniform(0, 1.0))
            before = len(self.arrived)
            started = time.perf_counter()
            await change(index)
            deadline = started + 10
            while len(self.arrived) == before:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no event within 10 s; statuses: {self.statuses[-3:]}")
                await asyncio.sleep(0.002)
            latencies.append(self.arrived[before] - started)
        return latencies


def _row(section: str, server: str, mode: str, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "section": section,
        "server": server,
        "mode": mode,
        "samples": len(ordered),
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_s": ordered[-1],
    }


# -- e-mail ----------------------------------------------------------------------------------------


@contextmanager
def _smtp(deliver: Callable[[bytes], None]) -> Iterator[int]:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            deliver(bytes(envelope.original_content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def _free_port() -> int:
    from tests.servers import free_port

    return free_port()


def _message(index: int) -> bytes:
    return (
        f"From: supplier@example.test\r\nTo: robot@example.test\r\nSubject: bench {index}\r\n"
        f"Message-ID: <bench-{index}-{time.time_ns()}@example.test>\r\n\r\nHello\r\n"
    ).encode()


async def _email_pair(server: str, host_port: int, user: str, password: str, deliver: Callable[[bytes], None],
                      folder: str, samples: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    with _smtp(deliver) as smtp_port:

        def send(index: int) -> None:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.sendmail("supplier@example.test", ["robot@example.test"], _message(index))

        for mode, extra, ready in (
            ("IDLE", {"use_idle": True}, "idle"),
            ("poll 1 s", {"use_idle": False, "poll_interval_s": 1.0}, "polling"),
        ):
            run = Run({"m.username": user, "m.password": password})
            config = EmailSourceConfig(
                host="127.0.0.1", port=host_port, security="none", credential="m", folder=folder, **extra
            )
            await run.start(EmailSource(), config, ready)

            async def change(index: int) -> None:
                await asyncio.to_thread(send, index)

            rows.append(_row("email", server, mode, await run.measure(change, samples)))
            await run.close()
    return rows


def _start_pymap(port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).with_name("pymap")
    return subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict", "--demo-data"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def bench_email(samples: int) -> list[dict[str, Any]]:
    import threading

    from imapclient import IMAPClient

    rows = []
    port = _free_port()
    process = _start_pymap(port)
    try:
        from tests.agent.steps.email.servers import wait_listening

        wait_listening(port)
        admin = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=10)
        admin.login("demouser", "demopass")
        admin.create_folder("Bench")
        lock = threading.Lock()

        def append(raw: bytes) -> None:
            with lock:
                admin.append("Bench", raw)

        rows += await _email_pair("pymap", port, "demouser", "demopass", append, "Bench", samples)
        admin.logout()
    finally:
        process.terminate()
        process.wait(10)
    with _dovecot() as (dovecot_port, deliver):
        rows += await _email_pair("Dovecot", dovecot_port, "robot", "bench-pass", deliver, "INBOX", samples)
    return rows


@contextmanager
def _dovecot() -> Iterator[tuple[int, Callable[[bytes], None]]]:
    """Debian's Dovecot from a private config, as the e-mail tests start it, without TLS."""
    from tests.agent.steps.email.servers import deliver_into_maildir, run_dovecot

    with run_dovecot(None, "robot", "bench-pass") as server:
        yield server.port, lambda raw: deliver_into_maildir(server, raw)


# -- files -----------------------------------------------------------------------------------------


async def bench_files(samples: int) -> list[dict[str, Any]]:
    rows = []
    for mode, extra, ready in (
        ("watchfiles", {}, "watching"),
        ("poll 1 s", {"force_polling": True, "poll_interval_s": 1.0}, "polling"),
    ):
        folder = Path(tempfile.mkdtemp(prefix="rpa-bench-files-"))
        run = Run()
        await run.start(FilesSource(), FilesSourceConfig(url=str(folder), **extra), ready)

        async def change(index: int, folder: Path = folder) -> None:
            (folder / f"f{index}.csv").write_text("id\n1\n")

        rows.append(_row("files", "local", mode, await run.measure(change, samples)))
        await run.close()
    return rows


# -- postgres --------------------------------------------------------------------------------------


async def bench_postgres(samples: int) -> list[dict[str, Any]]:
    import asyncpg

    from tests.postgres import PostgresServer

    rows = []
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-bench-pg-")))
    server.start()
    try:
        name = await server.create_database()
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
        connection = await asyncpg.connect(dsn)
        await connection.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer text)")
        await install_change_capture(dsn, "orders")
        for mode, config, ready in (
            ("LISTEN/NOTIFY", DatabaseSourceConfig(mode="postgres", url=dsn, table="orders"), "listening"),
            (
                "watermark poll 1 s",
                DatabaseSourceConfig(
                    mode="watermark",
                    url=server.url(name),
                    table="orders",
                    watermark_column="id",
                    key_column="id",
                    poll_interval_s=1.0,
                ),
                "polling",
            ),
        ):
            run = Run()
            await run.start(DatabaseSource(), config, ready)

            async def change(index: int) -> None:
                await connection.execute("INSERT INTO orders (customer) VALUES ($1)", f"c{index}")

            rows.append(_row("postgres", "PostgreSQL", mode, await run.measure(change, samples)))
            await run.close()
        await connection.close()
    finally:
        server.stop()
    return rows


SECTIONS: dict[str, Callable[[int], Awaitable[list[dict[str, Any]]]]] = {
    "email": bench_email,
    "files": bench_files,
    "postgres": bench_postgres,
}


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'section':<9} {'server':<11} {'mode':<19} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in rows:
        print(
            f"{row['section']:<9} {row['server']:<11} {row['mode']:<19} {row['samples']:>3} "
            f"{row['p50_s'] * 1000:>8.1f} {row['p95_s'] * 1000:>8.1f} {row['max_s'] * 1000:>8.1f}"
        )
    print()
    for ours, peer in zip(rows[::2], rows[1::2], strict=True):
        ratio = peer["p50_s"] / ours["p50_s"]
        verdict = "meets" if ours["p95_s"] < TARGET_S else "MISSES"
        print(
            f"{ours['section']}/{ours['server']}: {ours['mode']} p50 is {ratio:.1f}x faster than {peer['mode']}; "
            f"p95 {ours['p95_s'] * 1000:.0f} ms {verdict} the {TARGET_S:g} s target"
        )
        ours["peer_p50_over_ours"] = ratio


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in args.sections.split(","):
        rows += await SECTIONS[name](args.samples)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 samples per source")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--sections", default="email,files,postgres")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.quick:
        args.samples = 8
    random.seed(7)
    rows = asyncio.run(main_async(args))
    _print(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "samples": args.samples}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
