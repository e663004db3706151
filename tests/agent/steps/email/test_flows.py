"""E-mail steps inside flows: `rpa validate` reports bad params at their JSON path, and the
example template runs with `rpa run` against the local IMAP (pymap) and SMTP (aiosmtpd) servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from agent.steps.email import mark, save_attachments
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.email.mail import PDF, folder_name, message
from tests.agent.steps.email.servers import PASSWORD, USER, ImapServer, Smtp, Tls

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "resources" / "templates" / "email_invoices.json"


def rpa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env=dict(os.environ),
        check=False,
    )


def test_rpa_validate_reports_bad_email_params_at_their_json_path(tmp_path: Path) -> None:
    account = {"host": "imap.example.test", "username": "robot", "password_credential": "mailbox"}
    flow = {
        "schema": "rpa.flow/1",
        "name": "bad e-mail params",
        "nodes": [
            {"id": "a", "type": "email.mark", "params": {**account, "messages": [1]}},
            {"id": "b", "type": "email.save_attachments", "params": {**account, "messages": 3, "to": "files"}},
            {"id": "c", "type": "email.search", "params": {**account, "since": "last tuesday"}},
            {"id": "d", "type": "email.send", "params": {"host": "h", "sender": "a@b.test", "to": [], "text": "x"}},
            {"id": "e", "type": "email.search", "params": {**account, "since": "{{ inputs.since }}"}},
        ],
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))

    done = rpa("validate", str(path), "--json", cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    problems = {p["path"]: p["message"] for p in json.loads(done.stdout)["problems"]}
    assert set(problems) == {"$.nodes[2].params.since", "$.nodes[3].params.to"}, problems
    assert "valid date" in problems["$.nodes[2].params.since"]
    assert "at least 1 item" in problems["$.nodes[3].params.to"]


@pytest.mark.parametrize(
    ("step_fn", "params", "message"),
    [
        (mark, {"messages": [1]}, "give read and/or flagged"),
        (save_attachments, {"messages": 3, "to": "files"}, "to 'files' needs a directory"),
        (save_attachments, {"messages": [{"subject": "x"}]}, "needs its 'uid'"),
    ],
)
async def test_params_checked_together_fail_before_connecting(
    step_fn: Any, params: dict[str, Any], message: str
) -> None:
    account = {"host": "imap.example.test", "username": "robot", "password_credential": "mailbox"}
    with pytest.raises(StepError, match=message) as caught:
        await StepEnvironment().run(step_fn, {**account, **params})
    assert caught.value.kind == "validation"


def test_the_template_is_a_valid_flow(tmp_path: Path) -> None:
    path = tmp_path / "email_invoices.json"
    path.write_text(json.dumps(json.loads(TEMPLATE.read_text())["flow"]))
    done = rpa("validate", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_template_runs_with_rpa_run_against_local_servers(
    pymap: ImapServer, smtp: Smtp, tls: Tls, tmp_path: Path
) -> None:
    folder, processed = folder_name(), folder_name()
    client = pymap.client()
    client.create_folder(folder)
    client.append(folder, message("Invoice A", attachments={"a.pdf": PDF, "terms.txt": b"t"}))
    client.append(folder, message("No attachment"))
    client.append(folder, message("Invoice B", attachments={"b.PDF": PDF[::-1]}))
    flow = tmp_path / "email_invoices.json"
    flow.write_text(json.dumps(json.loads(TEMPLATE.read_text())["flow"]))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"mailbox": pymap.password, "smtp": PASSWORD}))
    inputs: dict[str, Any] = {
        "imap_host": pymap.host,
        "imap_port": pymap.port,
        "imap_security": "none",
        "username": pymap.username,
        "folder": folder,
        "processed_folder": processed,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.ports["starttls"],
        "smtp_username": USER,
        "ca_file": str(tls.cert),
        "sender": "robot@example.test",
        "report_to": "accounts@example.test",
    }
    args = [arg for key, value in inputs.items() for arg in ("-i", f"{key}={value}")]

    done = rpa("run", str(flow), "--json", "--secrets", str(secrets), *args, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded", result
    assert len(result["outputs"]["messages"]) == 2
    files = [tmp_path / ".rpa-artifacts" / result["execution_id"] / name for name in result["outputs"]["files"]]
    assert [f.read_bytes() for f in files] == [PDF, PDF[::-1]]
    [summary] = [
        r
        for r in smtp.received
        if BytesParser(policy=policy.default).parsebytes(r.data)["Message-ID"] == result["outputs"]["summary_id"]
    ]
    mail = BytesParser(policy=policy.default).parsebytes(summary.data.replace(b"\r\n", b"\n"))
    assert mail["Subject"] == "2 invoice mail(s) processed"
    assert "- Invoice A (supplier@example.test)" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [p.get_filename() for p in mail.iter_attachments()] == ["a.pdf", "b.PDF"]
    client.select_folder(processed, readonly=True)
    moved = client.fetch(client.search(["ALL"]), ["FLAGS"])
    assert sorted(b"\\Seen" in data[b"FLAGS"] for data in moved.values()) == [True, True]
    client.select_folder(folder, readonly=True)
    assert len(client.search(["ALL"])) == 1
    assert PASSWORD not in done.stdout + done.stderr
    client.logout()
