"""`files.zip` / `files.unzip`: streamed round trip, and the limits that refuse unsafe archives."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from agent.steps import files
from shared.errors import StepError
from shared.steps import StepEnvironment


async def test_zip_and_unzip_round_trip_folders_and_files(env: StepEnvironment, tmp_path: Path) -> None:
    (tmp_path / "reports" / "2026").mkdir(parents=True)
    payload = os.urandom(5 * 2**20)  # more than one chunk, incompressible
    (tmp_path / "reports" / "2026" / "a.bin").write_bytes(payload)
    (tmp_path / "reports" / "b.txt").write_text("b" * 10_000)
    (tmp_path / "single.txt").write_text("one")
    archive = tmp_path / "out" / "all.zip"
    packed = await env.run(
        files.zip_files,
        {"sources": [str(tmp_path / "reports"), str(tmp_path / "single.txt")], "destination": str(archive)},
    )
    assert packed["files"] == 3
    assert packed["bytes"] == len(payload) + 10_000 + 3
    assert packed["size"] == archive.stat().st_size
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["reports/2026/a.bin", "reports/b.txt", "single.txt"]
        assert zf.testzip() is None
    unpacked = await env.run(files.unzip, {"source": str(archive), "destination": str(tmp_path / "x")})
    assert unpacked["files"] == 3
    assert unpacked["bytes"] == packed["bytes"]
    assert (tmp_path / "x" / "reports" / "2026" / "a.bin").read_bytes() == payload
    assert sorted(unpacked["paths"]) == sorted(
        str(tmp_path / "x" / p) for p in ("reports/2026/a.bin", "reports/b.txt", "single.txt")
    )
    with pytest.raises(StepError, match="exists already"):
        await env.run(files.unzip, {"source": str(archive), "destination": str(tmp_path / "x")})
    with pytest.raises(StepError, match="exists already"):
        await env.run(files.zip_files, {"sources": [str(tmp_path / "single.txt")], "destination": str(archive)})


def _zip(path: Path, entries: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("entries", "symlink", "params", "reason"),
    [
        ({"bomb.bin": b"\0" * (30 * 2**20)}, None, {}, "compression ratio"),
        ({"big.bin": os.urandom(2**20)}, None, {"max_total_bytes": 2**19}, "more than max_total_bytes=524288"),
        ({f"f{i}.txt": b"x" for i in range(12)}, None, {"max_files": 10}, "12 entries, more than max_files=10"),
        ({"ok.txt": b"fine", "../../evil.txt": b"owned"}, None, {}, "'../../evil.txt' climbs out"),
        ({"ok.txt": b"fine", "/etc/evil.txt": b"owned"}, None, {}, "'/etc/evil.txt' is an absolute path"),
        ({"ok.txt": b"fine", "a/../../evil.txt": b"owned"}, None, {}, "climbs out"),
        ({"ok.txt": b"fine"}, "link", {}, "'link' is a symbolic link"),
    ],
    ids=["ratio-bomb", "total-size", "file-count", "dot-dot", "absolute", "nested-dot-dot", "symlink"],
)
async def test_unsafe_archives_are_refused_before_anything_is_written(
    env: StepEnvironment,
    tmp_path: Path,
    entries: dict[str, bytes],
    symlink: str | None,
    params: dict[str, int],
    reason: str,
) -> None:
    archive = _zip(tmp_path / "a.zip", entries, symlink=symlink)
    target = tmp_path / "deep" / "out"
    with pytest.raises(StepError, match="refused") as caught:
        await env.run(files.unzip, {"source": str(archive), "destination": str(target), **params})
    assert reason in caught.value.message
    assert str(archive) in caught.value.message
    assert (caught.value.kind, caught.value.retryable) == ("unsafe_archive", False)
    assert not target.exists()
    assert not (tmp_path / "evil.txt").exists()


async def test_a_header_that_understates_the_size_is_caught_while_extracting(
    env: StepEnvironment, tmp_path: Path
) -> None:
    archive = _zip(tmp_path / "liar.zip", {"a.bin": b"\0" * 4 * 2**20})
    # Rewrite the declared size (local header and central directory) to 1 byte: the deflate
    # stream still holds 4 MiB.
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("a.bin")
    size = info.file_size.to_bytes(4, "little")
    data = data.replace(size, (1).to_bytes(4, "little"))
    archive.write_bytes(bytes(data))
    with pytest.raises(StepError) as caught:
        await env.run(files.unzip, {"source": str(archive), "destination": str(tmp_path / "out")})
    assert (caught.value.kind, caught.value.retryable) == ("data", False)
    assert "a.bin" in caught.value.message
    assert not (tmp_path / "out" / "a.bin").exists()


async def test_not_a_zip_is_a_data_error(env: StepEnvironment, tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(StepError, match="is not a zip archive") as caught:
        await env.run(files.unzip, {"source": str(tmp_path / "fake.zip"), "destination": str(tmp_path / "o")})
    assert caught.value.kind == "data"
