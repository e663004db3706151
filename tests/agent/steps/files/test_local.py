"""`files.*` on local paths: listing and filters, reading and writing, copy/move/rename, delete."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest

from agent.steps import files
from shared.errors import StepError
from shared.steps import StepEnvironment


def _head(path: Path) -> bytes:
    return path.read_bytes()[:4]


def _tree(root: Path) -> Path:
    (root / "in" / "2026" / "12").mkdir(parents=True)
    (root / "in" / "a.pdf").write_bytes(b"%PDF" + b"x" * 2000)
    (root / "in" / "b.csv").write_text("id\n1\n")
    (root / "in" / "2026" / "12" / "c.pdf").write_bytes(b"%PDF" + b"y" * 10)
    old = time.time() - 3 * 86400
    os.utime(root / "in" / "b.csv", (old, old))
    return root / "in"


async def test_list_filters_by_pattern_recursion_size_and_age(env: StepEnvironment, tmp_path: Path) -> None:
    folder = _tree(tmp_path)
    flat = await env.run(files.list_files, {"path": str(folder)})
    assert [r["name"] for r in flat] == ["a.pdf", "b.csv"]
    assert flat[0] == {
        "path": str(folder / "a.pdf"),
        "name": "a.pdf",
        "type": "file",
        "size": 2004,
        "modified": flat[0]["modified"],
    }
    assert flat[0]["modified"].startswith(time.strftime("%Y-", time.gmtime()))
    pdfs = await env.run(files.list_files, {"path": str(folder), "pattern": "*.pdf", "recursive": True})
    assert [r["name"] for r in pdfs] == ["c.pdf", "a.pdf"]  # sorted by path: in/2026/... before in/a.pdf
    big = await env.run(files.list_files, {"path": str(folder), "recursive": True, "min_size": 100})
    assert [r["name"] for r in big] == ["a.pdf"]
    old = await env.run(files.list_files, {"path": str(folder), "recursive": True, "older_than_s": 86400})
    assert [r["name"] for r in old] == ["b.csv"]
    new = await env.run(files.list_files, {"path": str(folder), "recursive": True, "newer_than_s": 86400})
    assert [r["name"] for r in new] == ["c.pdf", "a.pdf"]
    folders = await env.run(files.list_files, {"path": str(folder), "recursive": True, "kind": "folders"})
    assert [r["name"] for r in folders] == ["2026", "12"]
    by_path = await env.run(files.list_files, {"path": str(folder), "recursive": True, "pattern": "2026/*/*.pdf"})
    assert [r["name"] for r in by_path] == ["c.pdf"]


async def test_list_of_a_missing_folder_names_it(env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(StepError, match="is not a folder") as caught:
        await env.run(files.list_files, {"path": str(tmp_path / "nope")})
    assert str(tmp_path / "nope") in caught.value.message
    assert caught.value.retryable is False


async def test_text_and_bytes_round_trip_and_modes(env: StepEnvironment, tmp_path: Path) -> None:
    target = tmp_path / "out" / "deep" / "note.txt"
    written = await env.run(files.write_text, {"path": str(target), "text": "héllo\n", "encoding": "latin-1"})
    assert written == {"path": str(target), "size": 6}
    assert await env.run(files.read_text, {"path": str(target), "encoding": "latin-1"}) == "héllo\n"
    await env.run(files.write_text, {"path": str(target), "text": "more", "mode": "append"})
    assert target.read_bytes() == "héllo\nmore".encode("latin-1")
    with pytest.raises(StepError, match="exists already") as caught:
        await env.run(files.write_text, {"path": str(target), "text": "x", "mode": "create"})
    assert caught.value.kind == "exists"
    with pytest.raises(StepError, match="utf-8") as bad:
        await env.run(files.read_text, {"path": str(target)})
    assert bad.value.kind == "data"
    blob = bytes(range(256)) * 10
    await env.run(files.write_bytes, {"path": str(tmp_path / "b.bin"), "data": base64.b64encode(blob).decode()})
    assert base64.b64decode(await env.run(files.read_bytes, {"path": str(tmp_path / "b.bin")})) == blob
    with pytest.raises(StepError, match="max_bytes=100") as large:
        await env.run(files.read_bytes, {"path": str(tmp_path / "b.bin"), "max_bytes": 100})
    assert large.value.kind == "too_large"
    with pytest.raises(StepError, match="no such file") as missing:
        await env.run(files.read_text, {"path": str(tmp_path / "missing.txt")})
    assert (missing.value.kind, missing.value.retryable) == ("not_found", False)
    assert str(tmp_path / "missing.txt") in missing.value.message


async def test_exists_make_folder_and_hash(env: StepEnvironment, tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    assert await env.run(files.exists, {"path": str(folder)}) is False
    assert await env.run(files.make_folder, {"path": str(folder)}) == str(folder)
    assert await env.run(files.make_folder, {"path": str(folder)}) == str(folder)
    assert await env.run(files.exists, {"path": str(folder)}) is True
    data = os.urandom(9 * 2**20 + 17)  # more than two chunks
    (folder / "f.bin").write_bytes(data)
    for algorithm in ("sha256", "sha1", "md5"):
        digest = await env.run(files.hash_file, {"path": str(folder / "f.bin"), "algorithm": algorithm})
        assert digest == hashlib.new(algorithm, data).hexdigest()


async def test_copy_move_and_rename(env: StepEnvironment, tmp_path: Path) -> None:
    folder = _tree(tmp_path)
    copied = await env.run(files.copy, {"source": str(folder), "destination": str(tmp_path / "backup") + "/"})
    assert copied == {
        "source": str(folder),
        "destination": str(tmp_path / "backup" / "in"),
        "files": 3,
        "bytes": 2004 + 5 + 14,
    }
    assert (tmp_path / "backup" / "in" / "2026" / "12" / "c.pdf").read_bytes() == b"%PDF" + b"y" * 10
    with pytest.raises(StepError, match="exists already") as exists:
        await env.run(files.copy, {"source": str(folder / "a.pdf"), "destination": str(tmp_path / "backup" / "in")})
    assert exists.value.kind == "exists"
    await env.run(files.copy, {"source": str(folder / "b.csv"), "destination": str(tmp_path / "b2.csv")})
    moved = await env.run(files.move, {"source": str(tmp_path / "b2.csv"), "destination": f"{tmp_path}/done/"})
    assert moved["destination"] == str(tmp_path / "done" / "b2.csv")
    assert not (tmp_path / "b2.csv").exists()
    assert (tmp_path / "done" / "b2.csv").read_text() == "id\n1\n"
    renamed = await env.run(files.rename, {"path": str(tmp_path / "done" / "b2.csv"), "new_name": "b3.csv"})
    assert renamed == str(tmp_path / "done" / "b3.csv")
    with pytest.raises(StepError, match="plain name") as invalid:
        await env.run(files.rename, {"path": str(tmp_path / "done" / "b3.csv"), "new_name": "../x.csv"})
    assert invalid.value.kind == "validation"
    with pytest.raises(StepError, match="does not exist"):
        await env.run(files.copy, {"source": str(tmp_path / "nope"), "destination": str(tmp_path / "x")})


async def test_delete_goes_to_the_recycle_folder_unless_permanent(env: StepEnvironment, tmp_path: Path) -> None:
    folder = _tree(tmp_path)
    result = await env.run(files.delete, {"path": str(folder / "a.pdf")})
    assert result["deleted"] is True
    recycled = Path(result["recycled_to"])
    assert recycled.parent == folder / ".recycle"
    assert recycled.name.endswith("-a.pdf")
    assert _head(recycled) == b"%PDF"
    assert not (folder / "a.pdf").exists()
    with pytest.raises(StepError, match="set recursive"):
        await env.run(files.delete, {"path": str(folder / "2026")})
    elsewhere = await env.run(
        files.delete, {"path": str(folder / "2026"), "recursive": True, "recycle_folder": str(tmp_path / "bin")}
    )
    assert Path(elsewhere["recycled_to"]).parent == tmp_path / "bin"
    assert (Path(elsewhere["recycled_to"]) / "12" / "c.pdf").exists()
    gone = await env.run(files.delete, {"path": str(folder / "b.csv"), "permanent": True})
    assert gone == {"path": str(folder / "b.csv"), "deleted": True, "recycled_to": None}
    assert not (folder / "b.csv").exists()
    assert list((folder / ".recycle").iterdir()) == [recycled]
    with pytest.raises(StepError, match="does not exist") as missing:
        await env.run(files.delete, {"path": str(folder / "b.csv")})
    assert missing.value.kind == "not_found"
    assert (await env.run(files.delete, {"path": str(folder / "b.csv"), "missing_ok": True}))["deleted"] is False


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty"),
        ("gopher://host/x", "not a supported storage"),
        ("ftp://robot:hunter2@host/x", "password inside a URL is refused"),
        ("s3:///key", "names no bucket"),
    ],
)
async def test_bad_paths_are_refused_before_anything_runs(env: StepEnvironment, path: str, message: str) -> None:
    with pytest.raises(StepError, match=message) as caught:
        await env.run(files.exists, {"path": path})
    assert caught.value.kind == "validation"
    assert "hunter2" not in caught.value.message


def test_locations_display_without_userinfo() -> None:
    location = files.parse_location("ftp://robot@files.example.com:2121/in/a.csv")
    assert (location.username, location.host, location.port, location.path) == (
        "robot",
        "files.example.com",
        2121,
        "/in/a.csv",
    )
    assert location.display() == "ftp://files.example.com:2121/in/a.csv"
    assert files.parse_location("s3://bucket/a/b.txt").path == "bucket/a/b.txt"
    assert files.parse_location("s3://bucket/a/b.txt").display() == "s3://bucket/a/b.txt"
    assert files.parse_location("sftp://host/home/x").display() == "sftp://host/home/x"
    assert files.parse_location("relative/file.txt").path == os.path.abspath("relative/file.txt")
