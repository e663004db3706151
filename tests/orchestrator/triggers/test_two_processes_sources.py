"""Two orchestrator processes on one PostgreSQL: e-mail (pymap), files (a local folder and an S3
prefix on moto's server) and database (PostgreSQL change capture) triggers start exactly one
execution per event while the process holding their leases is killed with SIGKILL mid-stream and
started again. Chain and `execution.*` event triggers start one execution per upstream end whichever process stored that
end, also when that process is killed after committing the end and before firing its news (the
firing held at that point by a row lock; the survivor's sweep of the stored transitions fires it).

Each source runs in the one process holding its trigger's lease; a killed holder's leases expire
(`RPA_TRIGGER_LEASE_S`) and the other process resumes from the stored cursor, the event keys
refusing what was already stored. Executions are counted per mapped input (one distinct value per
event)."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.supervise import LocalOrchestrator
from orchestrator.triggers.sources._pgcapture import install_change_capture
from tests.agent.steps.email.servers import ImapServer
from tests.orchestrator.triggers._two_processes import EMAIL, FLOW, LEASE_S, PASSWORD, database_url, pair
from tests.postgres import PostgresServer
from tests.servers import S3_KEY, S3_REGION, S3_SECRET

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["database_url", "pair"]  # fixtures used here


@pytest.fixture
def watched_db(postgres_template: tuple[PostgresServer, str]) -> Iterator[str]:
    """Another database of the same server, with an `orders` table under change capture."""
    server, _ = postgres_template
    name = asyncio.run(server.create_database())
    dsn = f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
    asyncio.run(_sql(dsn, "CREATE TABLE orders (id serial PRIMARY KEY, customer text)"))
    asyncio.run(install_change_capture(dsn, "orders"))
    yield dsn
    asyncio.run(server.drop_database(name))


async def _sql(dsn: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _trigger(server: LocalOrchestrator, workflow_id: str, kind: str, customer: str, **config: Any) -> dict[str, Any]:
    created: dict[str, Any] = server.client.request(
        "POST",
        f"/workflows/{workflow_id}/triggers",
        json={"name": kind, "kind": kind, "config": config, "inputs": {"customer": customer}},
    )
    return created


def _customers(server: LocalOrchestrator, trigger_type: str) -> collections.Counter[str]:
    page = server.client.request("GET", "/executions", params={"trigger": trigger_type, "limit": 500})
    return collections.Counter(e["inputs"]["customer"] for e in page["items"])


def _wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.2)


def _holder(server: LocalOrchestrator, trigger_id: str) -> str | None:
    holder: str | None = server.client.request("GET", f"/triggers/{trigger_id}")["state"]["running_in"]
    return holder


def _watching(server: LocalOrchestrator, trigger_id: str) -> bool:
    """Leased, and its source past its first look (what is there before it is not an event)."""
    state = server.client.request("GET", f"/triggers/{trigger_id}")["state"]
    return bool(state["running_in"]) and state["status"].startswith(("watching", "polling", "listening", "idle"))


class _Mailbox:
    """A fresh pymap folder; a message is an IMAP APPEND into it."""

    def __init__(self, server: ImapServer) -> None:
        self.server = server
        self.folder = f"T{uuid.uuid4().hex[:10]}"
        self.admin = server.client()
        self.admin.create_folder(self.folder)

    def deliver(self, subject: str) -> None:
        raw = (
            f"From: supplier@example.test\r\nTo: robot@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\n\r\nInvoice attached.\r\n"
        ).encode()
        self.admin.append(self.folder, raw, msg_time=dt.datetime(2026, 12, 7, 10, 30))

    def close(self) -> None:
        self.admin.logout()


@pytest.fixture
def mailbox(pymap: ImapServer) -> Iterator[_Mailbox]:
    box = _Mailbox(pymap)
    yield box
    box.close()


@pytest.fixture
def bucket(s3_server: str) -> tuple[str, str, Any]:
    """A fresh bucket on moto's S3 server: (endpoint, name, boto3 client)."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET, region_name=S3_REGION
    )
    name = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return s3_server, name, client


def _source_triggers(
    server: LocalOrchestrator,
    workflow_id: str,
    mailbox: _Mailbox,
    inbox: Path,
    watched_db: str,
    bucket: tuple[str, str, Any],
) -> list[dict[str, Any]]:
    server.client.request(
        "POST",
        "/credentials",
        json={
            "name": "mailbox",
            "kind": "username_password",
            "value": {"username": mailbox.server.username, "password": mailbox.server.password},
        },
    )
    mail = _trigger(
        server,
        workflow_id,
        "email",
        "{{ event.subject }}",
        host=mailbox.server.host,
        port=mailbox.server.port,
        security="none",
        credential="mailbox",
        folder=mailbox.folder,
        poll_interval_s=0.5,
        reconnect_initial_s=0.2,
    )
    files = _trigger(server, workflow_id, "files", "{{ event.name }}", url=str(inbox))
    endpoint, name, _ = bucket
    server.client.request(
        "POST",
        "/credentials",
        json={
            "name": "store",
            "kind": "key_value",
            "value": {
                "values": {
                    "access_key_id": S3_KEY,
                    "secret_access_key": S3_SECRET,
                    "endpoint_url": endpoint,
                    "region": S3_REGION,
                }
            },
        },
    )
    s3 = _trigger(
        server, workflow_id, "files", "{{ event.name }}", url=f"s3://{name}/in", credential="store", poll_interval_s=0.3
    )
    rows = _trigger(
        server, workflow_id, "database", "{{ event.row.customer }}", mode="postgres", url=watched_db, table="orders"
    )
    return [mail, files, s3, rows]


def test_a_killed_orchestrator_loses_and_doubles_no_mail_file_or_row(
    pair: tuple[LocalOrchestrator, LocalOrchestrator],
    mailbox: _Mailbox,
    watched_db: str,
    bucket: tuple[str, str, Any],
    tmp_path: Path,
) -> None:
    first, second = pair
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    workflow_id = first.publish(FLOW)
    triggers = _source_triggers(first, workflow_id, mailbox, inbox, watched_db, bucket)
    _wait_for(lambda: all(_watching(first, t["id"]) for t in triggers), 30, "every source watching")
    holders = {t["id"]: _holder(first, t["id"]) for t in triggers}

    def event(n: int) -> None:
        mailbox.deliver(f"mail-{n}")
        (inbox / f"file-{n}.csv").write_text("x" * (n + 1))
        bucket[2].put_object(Bucket=bucket[1], Key=f"in/s3-{n}.json", Body=b"{}")
        asyncio.run(_sql(watched_db, f"INSERT INTO orders (customer) VALUES ('row-{n}')"))

    for n in range(3):
        event(n)
    # Kill the process holding the sources (each may be held by either) once some events are in.
    _wait_for(lambda: sum(_customers(second, "email").values()) >= 1, 20, "a first mail started")
    victims = [s for s in (first, second) if any(f":{s.process.pid}:" in (h or "") for h in holders.values())]
    assert victims, f"no process holds the sources: {holders}"
    for victim in victims:
        victim.kill()
    for n in range(3, 6):
        event(n)  # while the leases run out: the survivor (or the restart) picks these up
    for victim in victims:
        victim.start()
        victim.client.login(EMAIL, PASSWORD)
    for n in range(6, 8):
        event(n)

    expected = {
        "email": {f"mail-{n}" for n in range(8)},
        "files": {f"file-{n}.csv" for n in range(8)} | {f"s3-{n}.json" for n in range(8)},
        "database": {f"row-{n}" for n in range(8)},
    }
    for kind, wanted in expected.items():
        try:
            _wait_for(lambda k=kind, w=wanted: set(_customers(first, k)) >= w, 30, f"every {kind} event started")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; missing {sorted(wanted - set(_customers(first, kind)))}") from None
    time.sleep(LEASE_S)  # a double would be stored by now
    for kind, wanted in expected.items():
        assert _customers(first, kind) == dict.fromkeys(wanted, 1), kind  # none lost, none doubled


class _RowLock:
    """Holds `FOR UPDATE` locks on trigger rows from its own connection, as a long transaction
    would: a process firing those triggers (its start writer counts `fire_count` on the row)
    waits there, after the move it fires for was committed: the window a kill must hit."""

    def __init__(self, database_url: str, trigger_ids: list[str]) -> None:
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.ids = trigger_ids
        self.held = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.dsn)
        try:
            async with connection.transaction():
                await connection.execute(
                    "SELECT id FROM triggers WHERE id = ANY($1::uuid[]) FOR UPDATE", [uuid.UUID(i) for i in self.ids]
                )
                self.held.set()
                await asyncio.to_thread(self.release.wait, 120)
        finally:
            await connection.close()

    def __enter__(self) -> _RowLock:
        self.thread.start()
        assert self.held.wait(30), "the row lock was not taken"
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(30)


def _cancel(server: LocalOrchestrator, ids: list[str]) -> None:
    for execution_id in ids:
        server.client.request("POST", f"/executions/{execution_id}/cancel", json={})


def test_chain_and_execution_events_start_once_per_end_even_when_killed_before_firing(
    pair: tuple[LocalOrchestrator, LocalOrchestrator], database_url: str
) -> None:
    first, second = pair
    upstream = first.publish({**FLOW, "name": "Upstream"}, name="Upstream")
    downstream = first.publish({**FLOW, "name": "Downstream"}, name="Downstream")
    chain = first.client.request(
        "POST",
        f"/workflows/{downstream}/triggers",
        json={
            "name": "after upstream",
            "kind": "chain",
            "config": {"after_workflow": upstream, "statuses": ["cancelled"]},
            "inputs": {"customer": "{{ event.execution_id }}"},
        },
    )
    watcher = first.client.request(
        "POST",
        f"/workflows/{downstream}/triggers",
        json={
            "name": "on cancel",
            "kind": "event",
            "config": {"name": "execution.cancelled", "filter": f"event.payload.workflow_id == '{upstream}'"},
            "inputs": {"customer": "seen {{ event.payload.execution_id }}"},
        },
    )
    # Both processes end upstream executions (no agent: a queued execution cancelled ends at once
    # in the process asked); each end starts the chain and the event trigger once.
    started = [first.start_execution(upstream, inputs={"customer": f"u{n}"}) for n in range(4)]
    cancellers = [
        threading.Thread(target=_cancel, args=(first, started[::2])),
        threading.Thread(target=_cancel, args=(second, started[1::2])),
    ]
    for thread in cancellers:
        thread.start()
    for thread in cancellers:
        thread.join(60)
    _wait_for(lambda: len(_customers(second, "chain")) == 4, 20, "every chained start")
    lost = first.start_execution(upstream, inputs={"customer": "lost"})
    with _RowLock(database_url, [chain["id"], watcher["id"]]):
        # The cancel is committed before it is answered. One only: the blocked firing holds the
        # organisation's audit head, which the next audited write would wait for.
        first.client.request("POST", f"/executions/{lost}/cancel", json={})
        time.sleep(0.5)  # the bus has the news and waits on the lock to fire it
        first.kill()
        # Nothing fired yet: the starts of the chain and of the event trigger were in the gap.
        assert set(_customers(second, "chain")) == set(started)
        assert lost not in _customers(second, "chain")
        assert f"seen {lost}" not in _customers(second, "event")
    started.append(lost)
    wanted_chain = set(started)
    wanted_event = {f"seen {e}" for e in started}
    _wait_for(
        lambda: set(_customers(second, "chain")) >= wanted_chain and set(_customers(second, "event")) >= wanted_event,
        30,
        "every lost start fired by the survivor",
    )
    time.sleep(1.5)  # another sweep: a double would be stored by now
    assert _customers(second, "chain") == dict.fromkeys(wanted_chain, 1)
    assert _customers(second, "event") == dict.fromkeys(wanted_event, 1)
