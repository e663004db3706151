"""Signed checkpoints of the audit chains, kept outside the database.

The database cannot vouch for its own end: whoever can write it can cut a chain's tail off and
move the head back, or delete a whole chain with its head. So the orchestrator writes, every
`audit_checkpoint_s` seconds (`runtime/checkpoints.CheckpointWriter`) and for each chain whose
head moved, a checkpoint to `<data dir>/audit-checkpoints/<chain>.jsonl`: one JSON line with
the head's sequence number, hash and switch point, signed with Ed25519 by a key derived from the
master key (`security/audit_keys.py`). Verification then expects every chain to reach its last
checkpoint with that very hash.

The files are plain, append-only JSON lines: copy them to storage the database's
administrators cannot write (object storage with retention, another host) to make the anchor
independent of this machine. `rpa audit verify --checkpoints DIR --offline` checks them with
nothing but their public key (pin it: `rpa audit public-key`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from orchestrator.db.session import Database
from orchestrator.models.audit import AuditHead
from orchestrator.security.audit_keys import AuditKey, verify_signature
from orchestrator.services.audit import Anchor

__all__ = [
    "FORMAT",
    "Checkpoint",
    "FileReport",
    "checkpoint_dir",
    "latest",
    "read_file",
    "verify_files",
    "write_checkpoints",
]

FORMAT = "rpa.audit-checkpoint/1"
DIR_NAME = "audit-checkpoints"


def checkpoint_dir(data_dir: Path) -> Path:
    return data_dir / DIR_NAME


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: chain `chain` had reached `seq` with `hash` at `at`."""

    chain: str
    seq: int
    hash: str
    keyed_from: int
    at: str
    public_key: str
    signature: str = ""

    def body(self) -> bytes:
        """What the signature covers (canonical JSON of every other field)."""
        content = {
            "format": FORMAT,
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash,
            "keyed_from": self.keyed_from,
            "at": self.at,
            "public_key": self.public_key,
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()

    def line(self) -> str:
        return json.dumps({**json.loads(self.body()), "signature": self.signature}, sort_keys=True) + "\n"

    def signed_by(self, public_key: str | None = None) -> bool:
        """The signature holds (under `public_key` when given, else under the one it carries)."""
        if public_key is not None and public_key != self.public_key:
            return False
        return verify_signature(self.public_key, self.signature, self.body())

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.seq, self.hash, self.keyed_from)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        data: dict[str, Any] = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} line")
        return cls(
            chain=str(data["chain"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            keyed_from=int(data["keyed_from"]),
            at=str(data["at"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _file_of(directory: Path, chain: str) -> Path:
    if not chain.replace("-", "").isalnum():  # an org id or "system": never a path
        raise ValueError(f"not a chain name: {chain!r}")
    return directory / f"{chain}.jsonl"


def read_file(path: Path) -> Iterator[tuple[int, Checkpoint | None]]:
    """(line number, checkpoint or None when the line does not parse) for every line of `path`."""
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                try:
                    yield number, Checkpoint.parse(text)
                except (ValueError, KeyError, TypeError):
                    yield number, None


def latest(directory: Path, chain: str, public_keys: Collection[str]) -> Checkpoint | None:
    """The chain's last checkpoint signed by one of `public_keys` (None when there is none)."""
    path = _file_of(directory, chain)
    if not path.exists():
        return None

    def trusted(checkpoint: Checkpoint | None) -> bool:
        return (
            checkpoint is not None
            and checkpoint.chain == chain
            and checkpoint.public_key in public_keys
            and checkpoint.signed_by()
        )

    # A file grows by a line per interval for as long as the chain moves: read its tail first
    # (lines are appended with growing numbers, so the last trusted one is the latest).
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read().decode("utf-8", errors="replace").splitlines()
    for text in reversed(tail[1:] if size > _TAIL_BYTES else tail):
        checkpoint = _parse_or_none(text)
        if trusted(checkpoint):
            return checkpoint
    found = None
    for _, checkpoint in read_file(path):
        if trusted(checkpoint) and (found is None or checkpoint.seq >= found.seq):  # type: ignore[union-attr]
            found = checkpoint
    return found


_TAIL_BYTES = 64 * 1024


def _parse_or_none(text: str) -> Checkpoint | None:
    try:
        return Checkpoint.parse(text) if text.strip() else None
    except (ValueError, KeyError, TypeError):
        return None


async def write_checkpoints(db: Database, directory: Path, key: AuditKey) -> list[Checkpoint]:
    """A checkpoint for every chain whose head moved since its last one; returns those written."""
    _private_dir(directory)
    async with db.transaction() as session:
        heads = (
            await session.execute(select(AuditHead.chain, AuditHead.seq, AuditHead.hash, AuditHead.keyed_from))
        ).all()
    written = []
    for chain, seq, hash_, keyed_from in heads:
        last = latest(directory, chain, {key.public_key})
        if last is not None and last.seq >= seq:
            continue
        checkpoint = Checkpoint(
            chain=chain,
            seq=int(seq),
            hash=str(hash_),
            keyed_from=int(keyed_from) if keyed_from is not None else 1,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            public_key=key.public_key,
        )
        checkpoint = replace(checkpoint, signature=key.sign(checkpoint.body()))
        _append(_file_of(directory, chain), checkpoint.line())
        written.append(checkpoint)
    return written


@dataclass
class FileReport:
    """What `verify_files` found in a directory of checkpoints."""

    chains: dict[str, int] = field(default_factory=dict)
    """Chain -> the last checkpointed sequence number."""
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.chains)


def verify_files(directory: Path, public_key: str | None = None) -> FileReport:
    """Check every checkpoint file in `directory` without a database or a key: each line parses
    and is signed (by `public_key` when pinned, else by one key throughout the directory), names
    its file's chain, and no later line goes back or gives the same sequence number another hash."""
    report = FileReport()
    keys: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        chain = path.stem
        seen: dict[int, str] = {}
        top = 0
        for number, checkpoint in read_file(path):
            where = f"{path.name}:{number}"
            if checkpoint is None:
                report.problems.append(f"{where}: not a checkpoint")
                continue
            report.checkpoints += 1
            keys.add(checkpoint.public_key)
            if not checkpoint.signed_by(public_key):
                report.problems.append(
                    f"{where}: the signature does not hold" + (" under the pinned key" if public_key else "")
                )
            elif checkpoint.chain != chain:
                report.problems.append(f"{where}: names chain {checkpoint.chain}, not {chain}")
            elif checkpoint.seq < top:
                report.problems.append(f"{where}: seq {checkpoint.seq} goes back from {top}")
            elif seen.setdefault(checkpoint.seq, checkpoint.hash) != checkpoint.hash:
                report.problems.append(f"{where}: seq {checkpoint.seq} with another hash than before")
            else:
                top = checkpoint.seq
        report.chains[chain] = top
    if public_key is None and len(keys) > 1:
        report.problems.append(f"{len(keys)} different signing keys; pin the right one with --public-key")
    return report
