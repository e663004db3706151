"""`files.*` over SFTP against a real asyncssh server on loopback, with the server's key checked."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from agent.steps import files
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import SFTP_PASSWORD, SFTP_USER, SftpServer


def _vault(server: SftpServer, password: str = SFTP_PASSWORD, *, pin: bool = True) -> dict[str, str]:
    secrets = {"sftp-test.username": SFTP_USER, "sftp-test.password": password}
    if pin:
        secrets["sftp-test.known_hosts"] = server.known_hosts
    return secrets


async def test_copy_list_hash_and_delete_over_sftp(sftp_server: SftpServer, tmp_path: Path) -> None:
    env = StepEnvironment(secrets=_vault(sftp_server))
    sftp = {"credential": "sftp-test"}
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(5 * 2**20 + 7))
    try:
        up = await env.run(files.copy, {"source": str(source), "destination": sftp_server.url("/in/"), **sftp})
        assert up["destination"] == sftp_server.url("/in/data.bin")
        assert (sftp_server.home / "in" / "data.bin").read_bytes() == source.read_bytes()
        rows = await env.run(files.list_files, {"path": sftp_server.url("/in"), **sftp})
        assert [(r["name"], r["size"]) for r in rows] == [("data.bin", source.stat().st_size)]
        digest = await env.run(files.hash_file, {"path": sftp_server.url("/in/data.bin"), **sftp})
        assert digest == hashlib.sha256(source.read_bytes()).hexdigest()
        deleted = await env.run(files.delete, {"path": sftp_server.url("/in/data.bin"), **sftp})
        assert deleted["recycled_to"].startswith(sftp_server.url("/in/.recycle/"))
        assert not (sftp_server.home / "in" / "data.bin").exists()
    finally:
        await env.aclose()
    assert SFTP_PASSWORD not in json.dumps([env.logs, up, rows, deleted])


async def test_a_wrong_sftp_password_is_an_auth_error_without_the_password(sftp_server: SftpServer) -> None:
    wrong = "wrong-sftp-Kp3Vn8Rt1"
    env = StepEnvironment(secrets=_vault(sftp_server, wrong))
    try:
        with pytest.raises(StepError) as caught:
            await env.run(files.exists, {"path": sftp_server.url("/x"), "credential": "sftp-test"})
    finally:
        await env.aclose()
    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert sftp_server.url("/x") in caught.value.message
    assert wrong not in json.dumps([caught.value.to_dict(), repr(caught.value), env.logs])


async def test_an_unknown_server_key_is_refused(sftp_server: SftpServer, tmp_path: Path) -> None:
    env = StepEnvironment(secrets=_vault(sftp_server, pin=False))
    previous = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path)  # no ~/.ssh/known_hosts: the server's key is trusted nowhere
    try:
        with pytest.raises(StepError) as caught:
            await env.run(files.exists, {"path": sftp_server.url("/x"), "credential": "sftp-test"})
    finally:
        if previous is not None:
            os.environ["HOME"] = previous
        await env.aclose()
    assert caught.value.retryable is False
    assert "host key" in caught.value.message.lower()
