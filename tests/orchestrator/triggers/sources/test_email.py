"""The e-mail source against real IMAP servers on loopback (pymap and Dovecot), messages fed over
SMTP or put straight into the server: one event per message, nothing repeated across restarts,
nothing missed while stopped, filters, mark read / move, IDLE wake-ups and renewal, reconnects."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.triggers.sources import SourceError
from orchestrator.triggers.sources.email import EmailSource, EmailSourceConfig
from tests.agent.steps.email.mail import PDF, folder_name, message
from tests.agent.steps.email.servers import ImapServer, Smtp, Tls, deliver_into_maildir, free_port, wait_listening
from tests.orchestrator.triggers.sources._ctx import Harness
from tests.orchestrator.triggers.sources._mail import Mailbox, send_smtp

_LOCK = threading.Lock()


@pytest.fixture(scope="module")
def admin(pymap: ImapServer) -> Iterator[Any]:
    client = pymap.client()
    yield client
    client.logout()


@pytest.fixture
def box(pymap: ImapServer, admin: Any) -> Mailbox:
    """A fresh folder on pymap; deliveries are IMAP APPENDs into it."""
    folder = folder_name()
    with _LOCK:
        admin.create_folder(folder)
        admin.create_folder(folder + "-done")

    def deliver(raw: bytes, flags: tuple[bytes, ...] = ()) -> None:
        with _LOCK:
            admin.append(folder, raw, flags=flags, msg_time=dt.datetime(2026, 12, 7, 10, 30))

    return Mailbox(pymap, folder, deliver, admin, _LOCK)


@pytest.fixture(scope="module")
def dovecot_admin(dovecot: ImapServer) -> Iterator[Any]:
    client = dovecot.client()
    yield client
    client.logout()


@pytest.fixture
def dovecot_box(dovecot: ImapServer, dovecot_admin: Any, tls: Tls) -> Mailbox:
    """Dovecot's INBOX over implicit TLS; deliveries land in the maildir as a local MDA's do."""
    return Mailbox(
        dovecot,
        "INBOX",
        lambda raw: deliver_into_maildir(dovecot, raw),
        dovecot_admin,
        _LOCK,
        security="tls",
        port=dovecot.tls_port,
        ca_file=str(tls.cert),
    )


async def test_a_message_sent_over_smtp_wakes_idle_and_becomes_one_event(box: Mailbox, smtp: Smtp) -> None:
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config())  # a poll every hour: only IDLE can bring it in time
    await harness.wait_status("idle (IDLE)")
    raw = message("Invoice 7", html="<p>Total <b>7</b></p>", attachments={"inv-7.pdf": PDF})
    await send_smtp(smtp, raw, box)

    (event,) = await harness.wait_events(1, within=5)
    uid = box.uids()[-1]
    assert event.key == f"{event.payload['uidvalidity']}:{uid}"
    payload = event.payload
    assert (payload["subject"], payload["from"], payload["to"], payload["folder"]) == (
        "Invoice 7",
        "supplier@example.test",
        ["robot@example.test"],
        box.folder,
    )
    assert payload["message_id"].endswith("@example.test>")
    assert payload["date"] == "2026-12-07T10:30:00+00:00"
    assert payload["text"] == "Hello\n"
    assert "<b>7</b>" in payload["html"]
    assert payload["attachments"] == [{"name": "inv-7.pdf", "size": len(PDF), "stored": True}]
    assert [(a.name, a.content) for a in event.attachments] == [("inv-7.pdf", PDF)]
    await harness.wait_for(lambda: b"\\Seen" in box.flags(uid), what="the message marked read")
    await harness.stop_run(within=3)
    assert harness.recorder.repeats == []


async def test_dovecot_over_tls_idle_wakes_for_a_delivered_message(dovecot_box: Mailbox, smtp: Smtp) -> None:
    harness = Harness(secrets=dovecot_box.secrets)
    harness.start(EmailSource(), dovecot_box.config())
    await harness.wait_status("idle (IDLE)")
    await send_smtp(smtp, message("Dovecot order 1"), dovecot_box)

    (event,) = await harness.wait_events(1, within=5)
    assert event.payload["subject"] == "Dovecot order 1"
    uid = event.payload["uid"]
    await harness.wait_for(lambda: b"\\Seen" in dovecot_box.flags(uid), what="the message marked read")
    await harness.stop_run(within=3)


async def test_pymap_starttls_logs_in_after_the_upgrade(pymap_starttls: ImapServer, tls: Tls) -> None:
    from imapclient import IMAPClient

    folder = folder_name()
    admin = IMAPClient("127.0.0.1", port=pymap_starttls.port, ssl=False, timeout=10)
    admin.starttls(ssl.create_default_context(cafile=str(tls.cert)))
    admin.login(pymap_starttls.username, pymap_starttls.password)
    admin.create_folder(folder)
    box = Mailbox(pymap_starttls, folder, lambda raw: None, admin, threading.Lock(), "starttls", None, str(tls.cert))
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config())
    await harness.wait_status("idle (IDLE)")
    admin.append(folder, message("Over STARTTLS"))
    (event,) = await harness.wait_events(1, within=5)
    assert event.payload["subject"] == "Over STARTTLS"
    await harness.stop_run(within=3)
    admin.logout()


async def test_a_restart_repeats_nothing_and_the_sweep_finds_what_came_meanwhile(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    config = box.config()
    harness.start(EmailSource(), config)
    await harness.wait_status("idle (IDLE)")
    box.deliver(message("Before the stop"))
    await harness.wait_events(1)
    await harness.stop_run(within=3)

    box.deliver(message("While stopped 1"))
    box.deliver(message("While stopped 2"))
    harness.start(EmailSource(), config)
    events = await harness.wait_events(3)
    await harness.stop_run(within=3)

    harness.start(EmailSource(), config)  # a third run with nothing new
    await harness.wait_status("idle (IDLE)")
    await asyncio.sleep(0.3)
    await harness.stop_run(within=3)

    assert [e.payload["subject"] for e in events] == ["Before the stop", "While stopped 1", "While stopped 2"]
    assert len(set(harness.recorder.keys)) == 3
    assert harness.recorder.repeats == []  # not even offered again: the cursor moved past them
    assert harness.cursor.state["last_uid"] == box.uids()[-1]


async def test_a_crash_between_emit_and_the_cursor_repeats_the_key_only(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    config = box.config(after="nothing", unread_only=False)
    harness.start(EmailSource(), config)
    await harness.wait_status("idle (IDLE)")
    before = dict(harness.cursor.state)
    box.deliver(message("Once"))
    await harness.wait_events(1)
    await harness.stop_run(within=3)
    harness.cursor.state = before  # the cursor write after the emit was lost

    harness.start(EmailSource(), config)
    await harness.wait_for(lambda: harness.recorder.repeats != [], what="the repeated emit")
    await harness.stop_run(within=3)
    assert len(harness.recorder.events) == 1
    assert harness.recorder.repeats == harness.recorder.keys


async def test_filters_take_only_the_matching_messages(box: Mailbox) -> None:
    box.deliver(message("Invoice A", sender="billing@acme.test", attachments={"a.pdf": PDF}))
    box.deliver(message("Invoice B", sender="billing@acme.test"))  # no attachment
    box.deliver(message("Invoice C", sender="someone@else.test", attachments={"c.pdf": PDF}))
    box.deliver(message("Hello", sender="billing@acme.test", attachments={"h.pdf": PDF}))
    box.deliver(message("Invoice D", sender="billing@acme.test", attachments={"d.pdf": PDF}), (b"\\Seen",))
    box.deliver(message("invoice 2026-12 E", sender="BILLING@acme.test", attachments={"e.pdf": PDF}))
    last = box.uids()[-1]

    async def taken(**filters: Any) -> list[str]:
        harness = Harness(secrets=box.secrets)
        harness.start(EmailSource(), box.config(process_existing=True, after="nothing", **filters))
        await harness.wait_for(lambda: harness.cursor.state.get("last_uid") == last, what="the sweep")
        await harness.stop_run(within=3)
        return [e.payload["subject"] for e in harness.recorder.events]

    common = {"sender": "billing@acme", "has_attachment": True}
    assert await taken(subject="invoice", **common) == ["Invoice A", "invoice 2026-12 E"]
    assert await taken(subject=r"^invoice \d{4}-\d\d", subject_is_regex=True, **common) == ["invoice 2026-12 E"]
    assert await taken(subject="invoice", sender="billing@acme", unread_only=False) == [
        "Invoice A",
        "Invoice B",
        "Invoice D",
        "invoice 2026-12 E",
    ]


def test_the_config_refuses_what_it_can_never_run() -> None:
    base = {"host": "imap.example.test", "credential": "mailbox"}
    with pytest.raises(ValueError, match="move_to"):
        EmailSourceConfig(**base, after="move")
    with pytest.raises(ValueError, match="regular expression"):
        EmailSourceConfig(**base, subject="(", subject_is_regex=True)
    with pytest.raises(ValueError, match="extra"):
        EmailSourceConfig(**base, password="x")
    with pytest.raises(ValueError, match="less than or equal"):
        EmailSourceConfig(**base, idle_renew_s=30 * 60)  # RFC 2177: under 29 minutes


async def test_handled_messages_are_moved_after_their_event(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config(after="move", move_to=box.folder + "-done"))
    await harness.wait_status("idle (IDLE)")
    box.deliver(message("Move me", attachments={"m.pdf": PDF}))
    await harness.wait_events(1)
    await harness.wait_for(lambda: box.uids() == [], what="the message moved out")
    await harness.stop_run(within=3)
    assert len(box.uids(box.folder + "-done")) == 1


async def test_a_new_uidvalidity_sweeps_the_folder_and_skips_known_message_ids(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    config = box.config(after="nothing", unread_only=False)
    harness.start(EmailSource(), config)
    await harness.wait_status("idle (IDLE)")
    known = message("Known")
    box.deliver(known)
    await harness.wait_events(1)
    await harness.stop_run(within=3)
    old_validity = harness.cursor.state["uidvalidity"]

    def recreate(client: Any) -> None:  # the folder re-created: every UID starts again
        client.delete_folder(box.folder)
        client.create_folder(box.folder)

    box.admin_call(recreate)
    box.deliver(known)
    box.deliver(message("Fresh"))
    harness.start(EmailSource(), config)
    await harness.wait_events(2)
    await harness.wait_for(lambda: harness.cursor.state.get("last_uid") == box.uids()[-1], what="the sweep")
    await harness.stop_run(within=3)

    assert harness.cursor.state["uidvalidity"] != old_validity
    assert [e.payload["subject"] for e in harness.recorder.events] == ["Known", "Fresh"]
    assert harness.recorder.repeats == []


async def test_idle_is_reissued_before_the_renewal_time_and_still_delivers(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config(idle_renew_s=0.3))
    await harness.wait_for(lambda: harness.statuses.count("idle (IDLE)") >= 4, what="three IDLE renewals")
    box.deliver(message("After renewals"))
    (event,) = await harness.wait_events(1)
    await harness.stop_run(within=3)
    assert event.payload["subject"] == "After renewals"


async def test_without_idle_the_folder_is_polled(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config(use_idle=False, poll_interval_s=0.2))
    await harness.wait_status("polling every 0.2 s")
    box.deliver(message("Polled"))
    (event,) = await harness.wait_events(1)
    await harness.stop_run(within=3)
    assert event.payload["subject"] == "Polled"


def _start_pymap(port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict", "--demo-data"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port)
    return process


async def test_a_server_that_goes_away_is_reconnected_with_backoff() -> None:
    port = free_port()
    process = await asyncio.to_thread(_start_pymap, port)
    server = ImapServer("127.0.0.1", port, "demouser", "demopass")
    try:
        harness = Harness(secrets={"mailbox.username": "demouser", "mailbox.password": "demopass"})
        config = EmailSourceConfig(
            host="127.0.0.1", port=port, security="none", credential="mailbox", poll_interval_s=3600,
            reconnect_initial_s=2.0, unread_only=False, after="nothing",
        )  # fmt: skip
        harness.start(EmailSource(), config)
        await harness.wait_status("idle (IDLE)")
        process.terminate()
        process.wait(10)
        await harness.wait_status("reconnecting in 2 s")
        process = await asyncio.to_thread(_start_pymap, port)  # a fresh server: a new UIDVALIDITY
        harness.statuses.clear()
        await harness.wait_status("idle (IDLE)", within=15)
        client = await asyncio.to_thread(server.client)
        client.append("INBOX", message("After the outage"))
        await harness.wait_for(
            lambda: "After the outage" in [p["subject"] for p in harness.recorder.payloads], what="the new message"
        )
        client.logout()
        await harness.stop_run(within=3)
    finally:
        process.terminate()
        process.wait(10)


async def test_reconnects_are_bounded_and_end_in_a_source_error() -> None:
    port = free_port()  # nothing listens there
    harness = Harness(secrets={"mailbox.username": "u", "mailbox.password": "p"})
    config = EmailSourceConfig(
        host="127.0.0.1", port=port, security="none", credential="mailbox",
        reconnect_initial_s=0.05, reconnect_attempts=3,
    )  # fmt: skip
    with pytest.raises(SourceError, match=rf"IMAP 127.0.0.1:{port}: gave up after 3 failed attempts") as caught:
        await harness.start(EmailSource(), config)
    assert caught.value.retryable
    assert [s.split(" (")[0] for s in harness.statuses] == ["reconnecting in 0.05 s", "reconnecting in 0.1 s"]
    assert "p" not in caught.value.message.split(":")[-1].split()  # the password is never part of it


async def test_a_refused_login_is_a_source_error_without_the_password(box: Mailbox) -> None:
    harness = Harness(secrets={"mailbox.username": "demouser", "mailbox.password": "Wr0ng-Secret-xyz"})
    with pytest.raises(SourceError, match="refused the login") as caught:
        await harness.start(EmailSource(), box.config())
    assert "Wr0ng-Secret-xyz" not in str(caught.value)


async def test_attachments_above_the_cap_are_listed_but_not_stored(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    harness.start(EmailSource(), box.config(max_attachment_bytes=100))
    await harness.wait_status("idle (IDLE)")
    box.deliver(message("Two files", attachments={"small.txt": b"tiny", "big.pdf": PDF}))
    (event,) = await harness.wait_events(1)
    await harness.stop_run()
    assert event.payload["attachments"] == [
        {"name": "small.txt", "size": 4, "stored": True},
        {"name": "big.pdf", "size": len(PDF), "stored": False},
    ]
    assert [a.name for a in event.attachments] == ["small.txt"]


async def test_dovecot_messages_delivered_while_stopped_are_swept_once(dovecot_box: Mailbox) -> None:
    harness = Harness(secrets=dovecot_box.secrets)
    config = dovecot_box.config(use_idle=False, poll_interval_s=0.2)
    harness.start(EmailSource(), config)
    await harness.wait_status("polling")
    await harness.stop_run()
    dovecot_box.deliver(message("Dovecot while stopped 1"))
    dovecot_box.deliver(message("Dovecot while stopped 2"))
    harness.start(EmailSource(), config)
    await harness.wait_events(2)
    await asyncio.sleep(0.5)  # two more polls
    await harness.stop_run()
    harness.start(EmailSource(), config)
    await harness.wait_status("polling")
    await asyncio.sleep(0.3)
    await harness.stop_run()
    assert [p["subject"] for p in harness.recorder.payloads] == ["Dovecot while stopped 1", "Dovecot while stopped 2"]
    assert harness.recorder.repeats == []


async def test_a_source_killed_mid_stream_loses_and_doubles_nothing(box: Mailbox) -> None:
    harness = Harness(secrets=box.secrets)
    config = box.config(after="mark_read")
    harness.start(EmailSource(), config)
    await harness.wait_status("idle (IDLE)")
    for index in range(12):
        box.deliver(message(f"Stream {index}"))
        if index == 4:
            await harness.wait_events(2)
            assert harness.task is not None
            harness.task.cancel()  # no stop, no clean-up: the process dies here
            await asyncio.gather(harness.task, return_exceptions=True)
    harness.start(EmailSource(), config)
    await harness.wait_events(12, within=15)
    await harness.stop_run()
    assert sorted(p["subject"] for p in harness.recorder.payloads) == sorted(f"Stream {i}" for i in range(12))
    assert len(harness.recorder.repeats) <= 1  # an emit whose cursor write was cut off: dropped by its key
