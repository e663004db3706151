#!/usr/bin/env python3
"""Files benchmark: copy and hash a big file through `files.*`, locally and to an S3 server.

    .venv/bin/python bench/_data_files.py [--size-mib 2048] [--repeat 2] [--no-s3] [--out bench/results/files.json]

Side by side in the same run, on the same file:

- local copy: `files.copy` vs `cp`; local hash: `files.hash` (sha256) vs `sha256sum`; and the two
  together (the target: our throughput >= 0.8x of `cp` + `sha256sum`);
- upload to S3: `files.copy` local -> s3:// vs boto3's `upload_file` (s3transfer, 10 threads);
  hash on S3: `files.hash` on s3:// (a streamed download) vs boto3 `download_fileobj` into
  hashlib. The S3 server is moto's (`ThreadedMotoServer`) on 127.0.0.1, in this process.

Each measurement runs in a fresh child process, so its peak RSS (`ru_maxrss`) is that
operation's alone (the target: < 100 MiB for ours, whatever the file size); the best time of
`--repeat` runs is kept. Our steps run through `StepEnvironment`, the code path of a flow's node.

`bench/data_steps.py` imports `run(args)` (rows as dicts) and `add_arguments(parser)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "files.json"
BUCKET = "bench-files"
KEY_ID, SECRET = "AKIABENCHFILES000001", "bench-secret"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark (shared with bench/data_steps.py)."""
    parser.add_argument("--size-mib", type=int, default=200, help="Size of the test file (the issue's size: 2048).")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per measurement; the best time is kept.")
    parser.add_argument("--no-s3", action="store_true", help="Leave out the S3 rows.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where the test files go (default: a temp dir).")


# -- child side: one operation, one JSON line ---------------------------------------------------------


def _hwm_mib(pid: int | str = "self") -> float | None:
    """VmHWM, the peak RSS of a process's own memory. `ru_maxrss` would not do: Linux carries the
    parent's RSS at fork into it across exec, and the parent here holds the S3 server's objects."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_mib() -> float:
    found = _hwm_mib()
    return found if found is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ours(op: str, src: str, dst: str, endpoint: str) -> Any:
    import asyncio

    from agent.steps import files
    from shared.steps import StepEnvironment

    secrets = {
        "bench.access_key_id": KEY_ID,
        "bench.secret_access_key": SECRET,
        "bench.endpoint_url": endpoint,
        "bench.region": "us-east-1",
    }
    cred = {"credential": "bench"} if endpoint else {}

    async def main() -> Any:
        env = StepEnvironment(secrets=secrets)
        try:
            if op == "copy":
                return await env.run(files.copy, {"source": src, "destination": dst, "overwrite": True, **cred})
            return await env.run(files.hash_file, {"path": src, **cred})
        finally:
            await env.aclose()

    return asyncio.run(main())


def _boto(op: str, src: str, dst: str, endpoint: str) -> Any:
    import hashlib

    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    if op == "copy":
        bucket, key = dst.removeprefix("s3://").split("/", 1)
        client.upload_file(src, bucket, key)
        return None
    bucket, key = src.removeprefix("s3://").split("/", 1)

    class _Sink:
        def __init__(self) -> None:
            self.digest = hashlib.sha256()

        def write(self, data: bytes) -> int:
            self.digest.update(data)
            return len(data)

    sink = _Sink()
    client.download_fileobj(bucket, key, sink)
    return sink.digest.hexdigest()


def child(args: argparse.Namespace) -> None:
    runner = _ours if args.child == "ours" else _boto
    # Imports are loaded before the clock starts (a robot has them loaded); connecting is timed.
    if args.child == "ours":
        import fsspec  # noqa: F401

        import agent.steps.files  # noqa: F401
        import shared.steps  # noqa: F401

        if args.endpoint:
            import s3fs  # noqa: F401
    else:
        import boto3  # noqa: F401
    started = time.perf_counter()
    result = runner(args.op, args.src, args.dst, args.endpoint)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mib": round(_peak_mib(), 1), "result": result}))


# -- parent side ------------------------------------------------------------------------------------


def _measure_child(kind: str, op: str, src: str, dst: str, endpoint: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--op", op, "--src", src, "--dst", dst, "--endpoint", endpoint]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    line: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return line


def _measure_command(cmd: list[str]) -> dict[str, Any]:
    """Time a command; its peak RSS is VmHWM read every 5 ms while it runs (cp and sha256sum
    hold a fixed buffer, so the last reading is the peak)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0.0
    while True:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _hwm_mib(proc.pid) or 0.0)
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"error": f"{cmd[0]} exited {proc.returncode}"}
    return {"seconds": seconds, "peak_rss_mib": round(peak, 1)}


Measure = Callable[[], dict[str, Any]]


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    for result in runs:
        if "error" in result:
            return result
    best = min(runs, key=lambda r: r["seconds"])
    peak = max(r["peak_rss_mib"] for r in runs)
    return {**best, "runs_s": [round(r["seconds"], 3) for r in runs], "peak_rss_mib": peak}


def _pair(repeat: int, ours: Measure, peer: Measure, cleanup: Callable[[], None]) -> tuple[dict[str, Any], ...]:
    """Best of `repeat` runs of each, alternating which goes first (A B, B A, ...), so the disk's
    write-back of one run does not always land on the same side."""
    runs: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for index in range(repeat):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for side in order:
            runs[side].append((ours, peer)[side]())
            cleanup()
            os.sync()
    return _summary(runs[0]), _summary(runs[1])


def _make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(2**20)
    with path.open("wb") as handle:
        for index in range(size_mib):
            # Each MiB differs, so no layer can deduplicate or compress the data away.
            handle.write(index.to_bytes(8, "little") + block[8:])
    os.sync()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _row(name: str, size: int, ours: dict[str, Any], peer_name: str, peer: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"operation": name, "bytes": size, "ours": ours, "peer": peer_name, "peer_result": peer}
    if "seconds" in ours and "seconds" in peer:
        row["ours_mib_s"] = round(size / 2**20 / ours["seconds"], 1)
        row["peer_mib_s"] = round(size / 2**20 / peer["seconds"], 1)
        row["ratio"] = round(peer["seconds"] / ours["seconds"], 2)  # >1: ours is faster
    return row


def _local_rows(args: argparse.Namespace, src: Path, work: Path) -> list[dict[str, Any]]:
    size = src.stat().st_size
    dst = work / "copy.bin"

    def rm() -> None:
        dst.unlink(missing_ok=True)

    copy_ours, copy_cp = _pair(
        args.repeat,
        lambda: _measure_child("ours", "copy", str(src), str(dst), ""),
        lambda: _measure_command(["cp", str(src), str(dst)]),
        rm,
    )
    hash_ours, hash_peer = _pair(
        args.repeat,
        lambda: _measure_child("ours", "hash", str(src), "", ""),
        lambda: _measure_command(["sha256sum", str(src)]),
        lambda: None,
    )
    rows = [
        _row("local copy", size, copy_ours, "cp", copy_cp),
        _row("local sha256", size, hash_ours, "sha256sum", hash_peer),
    ]
    if all("seconds" in r for r in (copy_ours, copy_cp, hash_ours, hash_peer)):
        both = {
            "seconds": copy_ours["seconds"] + hash_ours["seconds"],
            "peak_rss_mib": max(copy_ours["peak_rss_mib"], hash_ours["peak_rss_mib"]),
        }
        peer = {
            "seconds": copy_cp["seconds"] + hash_peer["seconds"],
            "peak_rss_mib": max(copy_cp["peak_rss_mib"], hash_peer["peak_rss_mib"]),
        }
        rows.append(_row("local copy + sha256", size, both, "cp + sha256sum", peer))
    return rows


def _s3_rows(args: argparse.Namespace, src: Path) -> list[dict[str, Any]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per S3 request in the table

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        size = src.stat().st_size
        url = f"s3://{BUCKET}/big.bin"

        def rm() -> None:
            client.delete_object(Bucket=BUCKET, Key="big.bin")

        up_ours, up_boto = _pair(
            args.repeat,
            lambda: _measure_child("ours", "copy", str(src), url, endpoint),
            lambda: _measure_child("boto3", "copy", str(src), url, endpoint),
            rm,
        )
        client.upload_file(str(src), BUCKET, "big.bin")
        hash_ours, hash_boto = _pair(
            args.repeat,
            lambda: _measure_child("ours", "hash", url, "", endpoint),
            lambda: _measure_child("boto3", "hash", url, "", endpoint),
            lambda: None,
        )
        rm()
        if hash_ours.get("result") != hash_boto.get("result"):
            hash_ours = {"error": "the digests differ"}
        return [
            _row("upload to S3 (moto)", size, up_ours, "boto3 upload_file", up_boto),
            _row("sha256 on S3 (moto)", size, hash_ours, "boto3 download + hashlib", hash_boto),
        ]
    finally:
        server.stop()


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure every row; returns them as dicts (`operation`, `ours`, `peer`, `ratio`, ...)."""
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rpa-bench-files-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "big.bin"
    try:
        _make_file(src, args.size_mib)
        rows = _local_rows(args, src, work)
        if not args.no_s3:
            rows += _s3_rows(args, src)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(rows: list[dict[str, Any]]) -> str:
    """The table printed at the end of a run."""
    header = (
        f"{'operation':<22} {'ours MiB/s':>10} {'ours RSS':>9} {'peer':<26} {'peer MiB/s':>10} {'peer RSS':>9} "
        f"{'ratio':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        ours, peer = r["ours"], r["peer_result"]
        if "ratio" not in r:
            lines.append(f"{r['operation']:<22} error: {ours.get('error') or peer.get('error')}")
            continue
        lines.append(
            f"{r['operation']:<22} {r['ours_mib_s']:>10} {ours['peak_rss_mib']:>8}M {r['peer']:<26} "
            f"{r['peer_mib_s']:>10} {peer['peak_rss_mib']:>8}M {r['ratio']:>6}"
        )
    lines.append("ratio = peer time / our time (>= 1: ours is as fast or faster); RSS = peak of the process")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", choices=["ours", "boto3"], help=argparse.SUPPRESS)
    parser.add_argument("--op", choices=["copy", "hash"], help=argparse.SUPPRESS)
    parser.add_argument("--src", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dst", default="", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = run(args)
    print(render(rows))
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "size_mib": args.size_mib,
        "repeat": args.repeat,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
