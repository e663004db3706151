#!/usr/bin/env python3
"""IMAP benchmark: messages per second fetched with their attachments, ours vs IMAPClient.

    .venv/bin/python bench/_integrations_imap.py [--messages 200] [--repeats 3]
                                                 [--out bench/results/integrations_imap.json]

`run(args)` returns the rows (`bench/integrations.py` calls it with its own arguments; only
`messages` and `repeats` are read). It starts pymap (`--no-tls dict`) on a free loopback port,
appends `messages` mails of ~25 KB (text, HTML, one 20 KB PDF attachment) to a fresh folder,
and times in the same run, alternating, each including its one login:

- ours: the `email.search` step through `StepEnvironment` (select, SEARCH ALL, FETCH
  BODY.PEEK[] in batches of 50, each message parsed into its JSON form: headers, bodies,
  attachment list);
- IMAPClient: the same commands directly (one FETCH of every message), raw bytes only;
- IMAPClient + `email` parser: the same, and each message parsed with the standard library
  (`policy.default`), the fair peer for what the step returns.

Each row has the best of `repeats` seconds, messages/s, and the ratio (its time / ours).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "integrations_imap.json"
USER, PASSWORD = "demouser", "demopass"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 80 + b"\n%%EOF\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _pymap() -> Iterator[int]:
    port = _free_port()
    binary = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pymap did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _mail(index: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "supplier@example.test"
    msg["To"] = "robot@example.test"
    msg["Subject"] = f"Invoice {index:05d}"
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content(f"Dear robot,\nplease find invoice {index} attached.\n" * 5)
    msg.add_alternative(f"<p>Invoice <b>{index}</b></p>" * 5, subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"invoice-{index}.pdf")
    return msg.as_bytes()


def _client(port: int) -> Any:
    from imapclient import IMAPClient

    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    client.login(USER, PASSWORD)
    return client


def _seed(port: int, folder: str, count: int) -> None:
    client = _client(port)
    client.create_folder(folder)
    for index in range(count):
        client.append(folder, _mail(index))
    client.logout()


def _ours(port: int, folder: str, count: int) -> int:
    from agent.steps.email import search
    from shared.steps import StepEnvironment

    async def go() -> int:
        env = StepEnvironment(secrets={"mailbox": PASSWORD})
        params = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": USER,
            "password_credential": "mailbox",
            "folder": folder,
            "limit": count,
        }
        found = await env.run(search, params)
        await env.aclose()
        assert all(len(m["attachments"]) == 1 for m in found)
        return len(found)

    return asyncio.run(go())


def _raw(port: int, folder: str, parse: bool) -> int:
    client = _client(port)
    client.select_folder(folder, readonly=True)
    fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]", "FLAGS"])
    if parse:
        parser = BytesParser(policy=policy.default)
        for data in fetched.values():
            msg = parser.parsebytes(data[b"BODY[]"])
            assert len(list(msg.iter_attachments())) == 1  # type: ignore[attr-defined]
    client.logout()
    return len(fetched)


def _best(fn: Callable[[], int], repeats: int, expected: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - start)
        if got != expected:
            raise RuntimeError(f"fetched {got} messages, expected {expected}")
    return min(times)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows: {scenario, messages, seconds, messages_per_s, ratio_vs_ours}."""
    count = int(getattr(args, "messages", None) or 200)
    repeats = int(getattr(args, "repeats", None) or 3)
    contenders: list[tuple[str, Callable[[int, str], int]]] = [
        ("ours: email.search (parsed)", lambda port, folder: _ours(port, folder, count)),
        ("IMAPClient fetch (raw bytes)", lambda port, folder: _raw(port, folder, parse=False)),
        ("IMAPClient fetch + email parser", lambda port, folder: _raw(port, folder, parse=True)),
    ]
    with _pymap() as port:
        folder = "Bench"
        _seed(port, folder, count)
        times = {name: _best(lambda fn=fn: fn(port, folder), repeats, count) for name, fn in contenders}
    ours = times[contenders[0][0]]
    return [
        {
            "scenario": name,
            "server": "pymap (dict, loopback)",
            "messages": count,
            "message_bytes": len(_mail(0)),
            "seconds": round(seconds, 4),
            "messages_per_s": round(count / seconds, 1),
            "ratio_vs_ours": round(seconds / ours, 3),
        }
        for name, seconds in times.items()
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this section (shared with bench/integrations.py, which has its own --repeats)."""
    parser.add_argument("--messages", type=int, default=200, help="IMAP: mails in the folder fetched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = run(args)
    print(f"{'scenario':34} {'messages':>8} {'seconds':>8} {'msg/s':>8} {'time / ours':>11}")
    for row in rows:
        print(
            f"{row['scenario']:34} {row['messages']:>8} {row['seconds']:>8.3f} "
            f"{row['messages_per_s']:>8.1f} {row['ratio_vs_ours']:>11.2f}"
        )
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": __import__("os").cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
