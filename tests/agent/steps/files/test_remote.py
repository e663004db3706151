"""`files.*` against real servers on loopback: moto's S3 and a pyftpdlib FTP server.

Credentials come from the vault by name; no secret value may show in a log line, an error or an
output, even when the server refuses the login.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.steps import files
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import FTP_PASSWORD, SECRETS_IN_TESTS, FtpServer, vault


def _assert_no_secret(*texts: Any) -> None:
    dumped = json.dumps(texts, default=str)
    for secret in SECRETS_IN_TESTS:
        assert secret not in dumped


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def remote_env(tmp_path: Path, s3_server: str) -> Any:
    environment = StepEnvironment(secrets=vault(s3_server), artifacts_dir=tmp_path / "artifacts")
    try:
        yield environment
    finally:
        await environment.aclose()


async def test_copy_local_to_s3_to_ftp_to_local_keeps_every_byte(
    remote_env: StepEnvironment, tmp_path: Path, ftp_server: FtpServer
) -> None:
    env = remote_env
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(9 * 2**20 + 123))  # several chunks, an S3 multipart upload
    s3 = {"credential": "s3-test"}
    ftp = {"credential": "ftp-test"}
    assert await env.run(files.make_folder, {"path": "s3://relay", **s3}) == "s3://relay"
    up = await env.run(files.copy, {"source": str(source), "destination": "s3://relay/in/", **s3})
    assert up == {"source": str(source), "destination": "s3://relay/in/big.bin", "files": 1, "bytes": 9 * 2**20 + 123}
    across = await env.run(
        files.copy,
        {
            "source": "s3://relay/in/big.bin",
            "destination": ftp_server.url("/relay/big.bin"),
            "credential": "s3-test",
            "destination_credential": "ftp-test",
        },
    )
    assert across["destination"] == ftp_server.url("/relay/big.bin")
    assert _sha256(ftp_server.home / "relay" / "big.bin") == _sha256(source)
    back = await env.run(
        files.copy, {"source": ftp_server.url("/relay/big.bin"), "destination": str(tmp_path / "back.bin"), **ftp}
    )
    assert back["bytes"] == source.stat().st_size
    assert _sha256(tmp_path / "back.bin") == _sha256(source)
    for url, cred in (("s3://relay/in/big.bin", s3), (ftp_server.url("/relay/big.bin"), ftp)):
        assert await env.run(files.hash_file, {"path": url, **cred}) == _sha256(source)
    _assert_no_secret(env.logs, up, across, back)


async def test_list_exists_read_write_and_delete_on_s3(remote_env: StepEnvironment) -> None:
    env = remote_env
    s3 = {"credential": "s3-test"}
    await env.run(files.make_folder, {"path": "s3://listing", **s3})
    for name, text in (("a.csv", "id\n1\n"), ("sub/b.csv", "id\n2\n"), ("c.txt", "x")):
        await env.run(files.write_text, {"path": f"s3://listing/{name}", "text": text, **s3})
    rows = await env.run(files.list_files, {"path": "s3://listing", "pattern": "*.csv", "recursive": True, **s3})
    assert [(r["path"], r["size"]) for r in rows] == [("s3://listing/a.csv", 5), ("s3://listing/sub/b.csv", 5)]
    assert all(r["modified"] and r["type"] == "file" for r in rows)
    assert await env.run(files.read_text, {"path": "s3://listing/sub/b.csv", **s3}) == "id\n2\n"
    assert await env.run(files.exists, {"path": "s3://listing/c.txt", **s3}) is True
    deleted = await env.run(files.delete, {"path": "s3://listing/c.txt", **s3})
    assert deleted["recycled_to"].startswith("s3://listing/.recycle/")
    assert await env.run(files.exists, {"path": "s3://listing/c.txt", **s3}) is False
    assert await env.run(files.read_text, {"path": deleted["recycled_to"], **s3}) == "x"
    with pytest.raises(StepError, match="no such file") as missing:
        await env.run(files.read_text, {"path": "s3://listing/nope.txt", **s3})
    assert missing.value.kind == "not_found"
    assert "s3://listing/nope.txt" in missing.value.message
    _assert_no_secret(env.logs, rows, deleted, missing.value.message)


async def test_ftp_list_move_rename_zip_and_unzip(env: StepEnvironment, ftp_server: FtpServer, tmp_path: Path) -> None:
    ftp = {"credential": "ftp-test"}
    for name in ("one.txt", "two.txt"):
        await env.run(files.write_text, {"path": ftp_server.url(f"/zipme/{name}"), "text": name * 100, **ftp})
    rows = await env.run(files.list_files, {"path": ftp_server.url("/zipme"), **ftp})
    assert [(r["name"], r["size"]) for r in rows] == [("one.txt", 700), ("two.txt", 700)]
    assert all(r["modified"] for r in rows)
    packed = await env.run(
        files.zip_files, {"sources": [ftp_server.url("/zipme")], "destination": ftp_server.url("/zips/z.zip"), **ftp}
    )
    assert packed["files"] == 2
    unpacked = await env.run(
        files.unzip,
        {"source": ftp_server.url("/zips/z.zip"), "destination": str(tmp_path / "local"), **ftp},
    )
    assert (tmp_path / "local" / "zipme" / "two.txt").read_text() == "two.txt" * 100
    assert unpacked["files"] == 2
    moved = await env.run(
        files.move, {"source": ftp_server.url("/zipme/one.txt"), "destination": ftp_server.url("/done/"), **ftp}
    )
    assert moved["destination"] == ftp_server.url("/done/one.txt")
    assert (ftp_server.home / "done" / "one.txt").exists()
    assert not (ftp_server.home / "zipme" / "one.txt").exists()
    renamed = await env.run(files.rename, {"path": ftp_server.url("/done/one.txt"), "new_name": "1.txt", **ftp})
    assert renamed == ftp_server.url("/done/1.txt")
    copied = await env.run(
        files.copy, {"source": ftp_server.url("/done/1.txt"), "destination": ftp_server.url("/copies/"), **ftp}
    )
    assert (ftp_server.home / "copies" / "1.txt").read_text() == "one.txt" * 100
    _assert_no_secret(env.logs, rows, packed, unpacked, moved, copied)


async def test_a_refused_ftp_login_says_so_without_the_password(ftp_server: FtpServer, tmp_path: Path) -> None:
    wrong = "wrong-Pw-Lr4Ks8Nv2"
    env = StepEnvironment(secrets={"ftp-bad.username": "robot", "ftp-bad.password": wrong})
    try:
        with pytest.raises(StepError) as caught:
            await env.run(files.exists, {"path": ftp_server.url("/x.txt"), "credential": "ftp-bad"})
    finally:
        await env.aclose()
    error = caught.value
    assert (error.kind, error.retryable) == ("auth", False)
    assert error.message == f"connecting to {ftp_server.url('/x.txt')} failed: error_perm: 530 Authentication failed."
    dumped = json.dumps([error.to_dict(), str(error), repr(error), env.logs])
    assert wrong not in dumped
    assert FTP_PASSWORD not in dumped


async def test_an_unknown_credential_is_named(env: StepEnvironment, ftp_server: FtpServer) -> None:
    with pytest.raises(StepError, match="no credential or secret named 'nope'") as caught:
        await env.run(files.exists, {"path": ftp_server.url("/x"), "credential": "nope"})
    assert caught.value.kind == "credential"


async def test_the_file_system_is_opened_once_per_execution(env: StepEnvironment, ftp_server: FtpServer) -> None:
    ftp = {"credential": "ftp-test"}
    await env.run(files.exists, {"path": ftp_server.url("/a"), **ftp})
    await env.run(files.exists, {"path": ftp_server.url("/b"), **ftp})
    open_now = env.resources.keys()
    keys = [k for k in open_now if k.startswith("files:")]
    assert len(keys) == 1
    storage = env.resources.get(keys[0])
    connection = storage.fs.ftp
    await env.aclose()
    assert env.resources.keys() == []
    assert connection.sock is None  # closed by the end of the execution


def _rpa_run(flow: Path, secrets: Path, journal: Path, credential: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from cli import main; main()", "run", str(flow), "--json"]
    command += ["--secrets", str(secrets), "--journal", str(journal), "--input", f"cred={credential}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_rpa_run_keeps_ftp_passwords_out_of_output_and_journal(ftp_server: FtpServer, tmp_path: Path) -> None:
    flow = {
        "schema": "rpa.flow/1",
        "name": "ftp upload",
        "inputs": {"cred": {"type": "string"}},
        "nodes": [
            {
                "id": "upload",
                "type": "files.write_text",
                "params": {"path": ftp_server.url("/flows/hello.txt"), "text": "hi", "credential": "{{ inputs.cred }}"},
            }
        ],
        "outputs": {"written": "{{ steps.upload.output }}"},
    }
    wrong = "wrong-Flow-Pw-Qs6Ty2"
    (tmp_path / "flow.json").write_text(json.dumps(flow))
    vault_file = tmp_path / "secrets.json"
    vault_file.write_text(
        json.dumps(
            {"good": {"username": "robot", "password": FTP_PASSWORD}, "bad": {"username": "robot", "password": wrong}}
        )
    )
    reports = {}
    for name in ("good", "bad"):
        journal = tmp_path / f"{name}.sqlite"
        done = _rpa_run(tmp_path / "flow.json", vault_file, journal, name)
        reports[name] = json.loads(done.stdout)
        # The journal is what an agent sends to the orchestrator: it must be as clean as the output.
        everything = done.stdout + done.stderr + journal.read_bytes().decode("utf-8", "replace")
        assert FTP_PASSWORD not in everything
        assert wrong not in everything
    assert reports["good"]["status"] == "succeeded"
    assert reports["good"]["outputs"]["written"] == {"path": ftp_server.url("/flows/hello.txt"), "size": 2}
    assert (ftp_server.home / "flows" / "hello.txt").read_text() == "hi"
    assert reports["bad"]["status"] == "failed"
    assert "530" in json.dumps(reports["bad"]["error"])


async def test_wait_for_a_file_on_ftp(env: StepEnvironment, ftp_server: FtpServer) -> None:
    (ftp_server.home / "drop").mkdir(exist_ok=True)
    (ftp_server.home / "drop" / "ready.csv").write_text("id\n1\n")
    row = await env.run(
        files.wait_for_file,
        {"path": ftp_server.url("/drop/ready.csv"), "stable_s": 0.2, "poll_s": 0.05, "credential": "ftp-test"},
    )
    assert (row["path"], row["size"]) == (ftp_server.url("/drop/ready.csv"), 5)


async def test_a_cancelled_copy_leaves_no_partial_file(ftp_server: FtpServer, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(9 * 2**20))
    env = StepEnvironment(secrets=vault())
    env.cancel()  # seen after the first chunk has been written
    try:
        with pytest.raises(StepError) as caught:
            await env.run(
                files.copy,
                {"source": str(source), "destination": ftp_server.url("/partial/big.bin"), "credential": "ftp-test"},
            )
    finally:
        await env.aclose()
    assert caught.value.kind == "cancelled"
    assert sorted(p.name for p in (ftp_server.home / "partial").iterdir()) == []
    local = StepEnvironment()
    local.cancel()
    with pytest.raises(StepError):
        await local.run(files.copy, {"source": str(source), "destination": str(tmp_path / "out" / "big.bin")})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
