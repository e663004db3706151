"""The IMAP steps against a real pymap server: search criteria, what a message carries, one
login per execution, mark/move/delete, attachments, and the errors a flow can act on."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.steps.email import EMAIL_STEPS
from agent.steps.email._manage import delete, mark, move, save_attachments
from agent.steps.email._search import search
from shared.errors import StepError
from shared.steps import definition_of
from tests.agent.steps.email.mail import PDF, environment, folder_name, message
from tests.agent.steps.email.servers import ImapServer, Tls, free_port


@pytest.fixture(scope="module")
def admin(pymap: ImapServer) -> Iterator[Any]:
    """One IMAPClient login (pymap's takes ~0.5 s) that fills the tests' folders."""
    client = pymap.client()
    yield client
    client.logout()


@pytest.fixture
def mailbox(admin: Any) -> dict[str, Any]:
    """A fresh folder with four messages: uids in the order appended."""
    folder = folder_name()
    client = admin
    client.create_folder(folder)
    client.append(folder, message("Invoice 1", attachments={"inv-1.pdf": PDF}), msg_time=dt.datetime(2026, 12, 1, 9))
    client.append(
        folder, message("Hello", sender="ann@example.test"), flags=[b"\\Seen"], msg_time=dt.datetime(2026, 12, 3)
    )
    client.append(
        folder,
        message("Invoice 2", html="<p>Total <b>12.50</b></p>", attachments={"inv-2.pdf": PDF[::-1], "note.txt": b"n"}),
        msg_time=dt.datetime(2026, 12, 5, 9),
    )
    client.append(folder, message("Newsletter", sender="news@example.test"), msg_time=dt.datetime(2026, 12, 6))
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search(["ALL"]))
    return {"folder": folder, "uids": uids}


def test_the_family_exports_its_steps_in_order() -> None:
    names = [definition_of(fn).name for fn in EMAIL_STEPS]
    assert names == ["email.send", "email.search", "email.save_attachments", "email.mark", "email.move", "email.delete"]


async def test_search_returns_headers_bodies_attachments_and_the_ids_to_deduplicate(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    env = environment(pymap, tmp_path)
    found = await env.run(search, pymap.params(folder=mailbox["folder"], subject="invoice 2"))

    assert len(found) == 1
    item = found[0]
    assert item["uid"] == mailbox["uids"][2]
    assert isinstance(item["uidvalidity"], int)
    assert item["uidvalidity"] > 0
    assert item["message_id"].endswith("@example.test>")
    assert (item["subject"], item["from"], item["to"], item["folder"]) == (
        "Invoice 2",
        "supplier@example.test",
        ["robot@example.test"],
        mailbox["folder"],
    )
    assert item["date"] == "2026-12-07T10:30:00+00:00"
    assert item["text"] == "Hello\n"
    assert "<b>12.50</b>" in item["html"]
    assert item["attachments"] == [
        {"filename": "inv-2.pdf", "content_type": "application/octet-stream", "size": len(PDF)},
        {"filename": "note.txt", "content_type": "application/octet-stream", "size": 1},
    ]
    assert item["seen"] is False
    await env.aclose()


CRITERIA: list[tuple[dict[str, Any], list[int]]] = [
    ({}, [0, 1, 2, 3]),
    ({"unread": True}, [0, 2, 3]),
    ({"unread": False}, [1]),
    ({"sender": "ann@"}, [1]),
    ({"subject": "INVOICE"}, [0, 2]),
    ({"has_attachment": True}, [0, 2]),
    ({"has_attachment": False, "unread": True}, [3]),
    ({"since": "2026-12-03", "before": "2026-12-06"}, [1, 2]),
    ({"newest_first": True, "limit": 2}, [3, 2]),
    ({"has_attachment": True, "limit": 1}, [0]),
    ({"fetch": "headers", "subject": "hello"}, [1]),
]


async def test_search_criteria_select_the_right_messages(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    env = environment(pymap, tmp_path)
    try:
        for criteria, expected in CRITERIA:
            found = await env.run(search, pymap.params(folder=mailbox["folder"], **criteria))
            assert [m["uid"] for m in found] == [mailbox["uids"][i] for i in expected], criteria
    finally:
        await env.aclose()
    assert "text" not in found[0]
    assert "attachments" not in found[0]


async def test_one_login_serves_every_step_of_an_execution_and_ends_with_it(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    found = await env.run(search, {**params, "unread": True})
    [key] = env.resources.keys()
    session = env.resources.get(key)

    await env.run(mark, {**params, "messages": found, "read": True, "flagged": True})
    after = await env.run(search, {**params, "unread": True})

    assert after == []
    assert env.resources.keys() == [key]
    assert env.resources.get(key) is session
    await env.aclose()
    assert env.resources.keys() == []
    assert session.client._imap.state == "LOGOUT"
    fresh = environment(pymap, tmp_path)
    flagged = await fresh.run(search, {**params, "flagged": True})
    await fresh.aclose()
    assert [m["uid"] for m in flagged] == [mailbox["uids"][i] for i in (0, 2, 3)]


async def test_mark_unread_move_and_delete(pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path) -> None:
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    target = folder_name()
    uids = mailbox["uids"]

    await env.run(mark, {**params, "messages": uids[1], "read": False})
    moved = await env.run(move, {**params, "messages": [uids[0], uids[2]], "to_folder": target, "create": True})
    deleted = await env.run(delete, {**params, "messages": [{"uid": uids[3]}]})
    left = await env.run(search, params)
    there = await env.run(search, {**params, "folder": target})
    await env.aclose()

    assert moved == {"folder": mailbox["folder"], "to_folder": target, "uids": [uids[0], uids[2]]}
    assert deleted == {"folder": mailbox["folder"], "uids": [uids[3]]}
    assert [(m["uid"], m["seen"]) for m in left] == [(uids[1], False)]
    assert [m["subject"] for m in there] == ["Invoice 1", "Invoice 2"]


async def test_attachments_saved_as_artifacts_and_files_byte_equal_with_safe_names(
    pymap: ImapServer, admin: Any, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    admin.append(mailbox["folder"], message("Tricky", attachments={"../../evil.sh": b"#!", "inv.pdf": PDF}))
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    found = await env.run(search, {**params, "has_attachment": True})

    artifacts = await env.run(save_attachments, {**params, "messages": found, "patterns": ["*.PDF"]})
    files = await env.run(
        save_attachments, {**params, "messages": found, "to": "files", "directory": str(tmp_path / "in")}
    )
    await env.aclose()

    assert [(a["filename"], a["size"]) for a in artifacts] == [
        ("inv-1.pdf", len(PDF)),
        ("inv-2.pdf", len(PDF)),
        ("inv.pdf", len(PDF)),
    ]
    stored = tmp_path / "artifacts" / env.execution_id
    assert (stored / artifacts[1]["artifact"]).read_bytes() == PDF[::-1]
    assert sorted(Path(f["path"]).name for f in files) == ["evil.sh", "inv-1.pdf", "inv-2.pdf", "inv.pdf", "note.txt"]
    assert all(Path(f["path"]).parent == tmp_path / "in" for f in files)
    assert (tmp_path / "in" / "inv-1.pdf").read_bytes() == PDF


async def test_a_wrong_password_is_an_auth_error_without_the_password(pymap: ImapServer, tmp_path: Path) -> None:
    env = environment(pymap, tmp_path)
    env.secrets["mailbox"] = "wrong-Pa55-word"
    with pytest.raises(StepError) as caught:
        await env.run(search, pymap.params())

    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert f"IMAP 127.0.0.1:{pymap.port}" in caught.value.message
    assert "wrong-Pa55-word" not in str(caught.value.to_dict())
    assert env.resources.keys() == []


async def test_a_refused_connection_is_retryable_and_a_missing_folder_is_not(pymap: ImapServer, tmp_path: Path) -> None:
    env = environment(pymap, tmp_path)
    with pytest.raises(StepError) as refused:
        await env.run(search, {**pymap.params(), "port": free_port()})
    with pytest.raises(StepError) as missing:
        await env.run(search, pymap.params(folder="No/Such/Folder"))
    await env.aclose()

    assert (refused.value.kind, refused.value.retryable) == ("connection", True)
    assert (missing.value.kind, missing.value.retryable) == ("folder", False)
    assert "No/Such/Folder" in missing.value.message


async def test_messages_from_before_a_renumbering_are_refused(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    [first, *_] = await env.run(search, params)
    with pytest.raises(StepError) as caught:
        await env.run(delete, {**params, "messages": [{**first, "uidvalidity": first["uidvalidity"] + 1}]})
    still = await env.run(search, params)
    await env.aclose()

    assert (caught.value.kind, caught.value.retryable) == ("uidvalidity_changed", False)
    assert len(still) == 4


async def test_a_dropped_connection_is_a_retryable_error_and_the_retry_logs_in_again(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    await env.run(search, params)
    [key] = env.resources.keys()
    env.resources.get(key).client._imap.sock.shutdown(socket.SHUT_RDWR)  # the network went away

    with pytest.raises(StepError) as caught:
        await env.run(search, params)
    assert (caught.value.kind, caught.value.retryable) == ("connection", True)
    assert env.resources.keys() == []

    again = await env.run(search, params)
    await env.aclose()
    assert len(again) == 4


async def test_imap_over_starttls_checks_the_certificate(pymap_starttls: ImapServer, tls: Tls, tmp_path: Path) -> None:
    env = environment(pymap_starttls, tmp_path)
    params = pymap_starttls.params(security="starttls")
    with pytest.raises(StepError) as untrusted:
        await env.run(search, params)
    with pytest.raises(StepError) as wrong_mode:
        await env.run(search, {**params, "security": "tls", "ca_file": str(tls.cert), "timeout_s": 5})

    found = await env.run(search, {**params, "ca_file": str(tls.cert)})
    await env.aclose()

    assert (untrusted.value.kind, untrusted.value.retryable) == ("tls", False), untrusted.value.__cause__
    assert "certificate" in untrusted.value.message
    assert (wrong_mode.value.kind, wrong_mode.value.retryable) == ("tls", False)
    assert [m["subject"] for m in found][-1] == "Hello, World!"


async def test_a_folder_that_cannot_be_written_is_a_file_error_and_keeps_the_session(
    pymap: ImapServer, mailbox: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = environment(pymap, tmp_path)
    params = pymap.params(folder=mailbox["folder"])
    with pytest.raises(StepError) as caught:
        await env.run(
            save_attachments, {**params, "messages": mailbox["uids"][0], "to": "files", "directory": str(blocker)}
        )
    keys = env.resources.keys()
    await env.aclose()

    assert (caught.value.kind, caught.value.retryable) == ("file", False)
    assert "inv-1.pdf" in caught.value.message
    assert len(keys) == 1
