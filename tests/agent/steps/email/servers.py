"""Real mail servers on loopback, all started and stopped here (the root conftest registers the
session fixtures, so the e-mail step tests and the trigger-source tests share one of each).

- `tls` (session): a self-signed certificate for 127.0.0.1 made with `cryptography`; its PEM
  is the `ca_file` the steps trust.
- `smtp` (session): three aiosmtpd servers sharing one mailbox (`smtp.received`): `plain`
  (no TLS, no login), `starttls` (STARTTLS required, AUTH PLAIN/LOGIN after it) and `tls`
  (implicit TLS, AUTH). A message may also be delivered into the Dovecot maildir (`deliver_to`).
- `pymap` (session): `pymap --no-tls dict --demo-data` as a subprocess (demouser/demopass), the
  fast IMAP server; stopped by PID. `pymap_starttls`: the same offering STARTTLS with `tls`.
- `dovecot` (session): Debian's Dovecot from a private config in a temp folder (passwd-file with
  {PLAIN}, static userdb, maildir, IMAP and IMAPS with `tls`, 127.0.0.1 on free ports); stopped by the PID in its
  master.pid. As root the mail belongs to uid 65534; otherwise Dovecot runs entirely as the
  user running the tests. A missing dovecot fails the tests with the fix, never skips them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

USER, PASSWORD = "robot@example.test", "s3cret-Pa55-word"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Tls:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Tls(folder / "cert.pem", folder / "key.pem")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Smtp:
    ports: dict[str, int]
    received: list[Received] = field(default_factory=list)
    deliver_to: Callable[[bytes], None] | None = None
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.startswith("refuse"):  # a mailbox that does not exist, to test refusals
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = bytes(envelope.original_content)
        self.smtp.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
        if self.smtp.deliver_to is not None:
            self.smtp.deliver_to(data)
        return "250 OK"


def _authenticator(smtp: Smtp) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        smtp.logins.append(f"{mechanism}:{'ok' if ok else 'refused'}")
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture(scope="session")
def smtp(tls: Tls) -> Iterator[Smtp]:
    from aiosmtpd.controller import Controller

    box = Smtp(ports={})
    handler = _Handler(box)
    controllers = {
        "plain": Controller(handler, hostname="127.0.0.1", port=free_port()),
        "starttls": Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            tls_context=tls.server_context(),
            require_starttls=True,
            authenticator=_authenticator(box),
        ),
        "tls": Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            ssl_context=tls.server_context(),
            authenticator=_authenticator(box),
            # aiosmtpd counts only STARTTLS as TLS; this connection is TLS from the first byte.
            auth_require_tls=False,
            server_hostname="127.0.0.1",
        ),
    }
    started = []
    try:
        for name, controller in controllers.items():
            controller.start()
            started.append(controller)
            box.ports[name] = controller.port
        yield box
    finally:
        for controller in started:
            controller.stop()


@dataclass
class ImapServer:
    host: str
    port: int
    username: str
    password: str
    maildir: Path | None = None
    uid: int = -1
    gid: int = -1
    tls_port: int | None = None

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "username": self.username,
            "password_credential": "mailbox",
            **extra,
        }

    def client(self) -> Any:
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client


@contextmanager
def _pymap(*tls_args: str) -> Iterator[ImapServer]:
    port = free_port()
    binary = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), *tls_args, "dict", "--demo-data"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        yield ImapServer("127.0.0.1", port, "demouser", "demopass")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def pymap() -> Iterator[ImapServer]:
    with _pymap("--no-tls") as server:
        yield server


@pytest.fixture(scope="session")
def pymap_starttls(tls: Tls) -> Iterator[ImapServer]:
    """pymap offering STARTTLS with the suite's self-signed certificate."""
    with _pymap("--cert", str(tls.cert), "--key", str(tls.key)) as server:
        yield server


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/base
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
{users}
mail_location = maildir:{root}/mail/%n
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def _dovecot_binary() -> str:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        pytest.fail("dovecot is not installed: run installer/system-deps.sh (package dovecot-imapd)")
    return binary


def _mail_owner() -> tuple[int, int, str]:
    """Who owns the mail: as root, uid 65534 (Dovecot drops to it); else the user running the
    tests, who then also runs Dovecot's internal and login processes."""
    if os.geteuid() == 0:
        return 65534, 65534, ""
    import grp
    import pwd

    uid, gid = os.getuid(), os.getgid()
    user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    users = f"default_internal_user = {user}\ndefault_internal_group = {group}\ndefault_login_user = {user}"
    return uid, gid, users


@contextmanager
def run_dovecot(tls: Tls | None, user: str, password: str) -> Iterator[ImapServer]:
    """Debian's Dovecot from a private config under a temporary folder, for `user`; with `tls`, an
    IMAPS listener too (the session fixture `dovecot`; `bench/trigger_sources.py` runs it without)."""
    binary = _dovecot_binary()
    uid, gid, users = _mail_owner()
    root = Path(tempfile.mkdtemp(prefix="rpa-dovecot-"))
    root.chmod(0o755)
    for folder in ("base", "state", "mail"):
        (root / folder).mkdir()
    os.chown(root / "mail", uid, gid)
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    port, tls_port = free_port(), (free_port() if tls is not None else 0)
    ssl_conf = f"ssl = yes\nssl_cert = <{tls.cert}\nssl_key = <{tls.key}" if tls is not None else "ssl = no"
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(root=root, port=port, tls_port=tls_port, ssl=ssl_conf, uid=uid, gid=gid, users=users)
    )
    subprocess.run([binary, "-c", str(conf)], check=True, timeout=30)
    try:
        wait_listening(port)
        yield ImapServer(
            "127.0.0.1",
            port,
            user,
            password,
            maildir=root / "mail" / user,
            uid=uid,
            gid=gid,
            tls_port=tls_port if tls is not None else None,
        )
    finally:
        pid = int((root / "base" / "master.pid").read_text().strip())
        os.kill(pid, 15)
        for _ in range(100):
            if not (root / "base" / "master.pid").exists():
                break
            time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(tls: Tls) -> Iterator[ImapServer]:
    with run_dovecot(tls, USER.split("@")[0], PASSWORD) as server:
        yield server


def deliver_into_maildir(server: ImapServer, raw: bytes) -> None:
    """What a local delivery agent does: write the message into the user's maildir `new/`."""
    assert server.maildir is not None
    for sub in ("", "cur", "new", "tmp"):
        (server.maildir / sub).mkdir(parents=True, exist_ok=True)
        os.chown(server.maildir / sub, server.uid, server.gid)
    name = f"{time.time():.6f}.{uuid.uuid4().hex}.rpa-test"
    tmp = server.maildir / "tmp" / name
    tmp.write_bytes(raw)
    os.chown(tmp, server.uid, server.gid)
    tmp.rename(server.maildir / "new" / name)
