"""csv.read and csv.write: encodings and dialects detected, types inferred, rows streamed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.excel import csv_read, csv_write, read_csv_rows
from agent.steps.excel._csv import detect_encoding
from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment

TEXT = 'name;amount;zip;when\n"Café; Ltd";12.5;007;2026-12-07\nZoë;-3;;\n'
EXPECTED = [
    {"name": "Café; Ltd", "amount": 12.5, "zip": "007", "when": "2026-12-07"},
    {"name": "Zoë", "amount": -3, "zip": None, "when": None},
]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
async def test_encoding_and_delimiter_are_detected(
    env: StepEnvironment, tmp_path: Path, encoding: str, detected: str
) -> None:
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(TEXT.encode(encoding))
    assert detect_encoding(path) == detected
    assert await env.run(csv_read, {"path": str(path)}) == EXPECTED


async def test_tabs_and_pipes_and_a_given_delimiter(env: StepEnvironment, tmp_path: Path) -> None:
    tabbed = tmp_path / "t.tsv"
    tabbed.write_text("a\tb\n1\tx y\n2\tz\n", encoding="utf-8")
    assert await env.run(csv_read, {"path": str(tabbed)}) == [{"a": 1, "b": "x y"}, {"a": 2, "b": "z"}]
    piped = tmp_path / "p.csv"
    piped.write_text("a|b\n1|2\n", encoding="utf-8")
    assert await env.run(csv_read, {"path": str(piped), "delimiter": "|", "infer_types": False}) == [
        {"a": "1", "b": "2"}
    ]


async def test_header_offset_limit(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(10)), encoding="utf-8")
    assert await env.run(csv_read, {"path": str(path), "offset": 3, "limit": 2}) == [{"n": 3}, {"n": 4}]
    raw = await env.run(csv_read, {"path": str(path), "header": False, "limit": 2})
    assert raw == [{"column_1": "n"}, {"column_1": 0}]


async def test_write_then_read_round_trips_and_append_adds_rows(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "out" / "t.csv"
    assert await env.run(csv_write, {"path": str(path), "table": EXPECTED, "delimiter": ";"}) == {
        "path": str(path),
        "rows": 2,
    }
    assert path.read_text(encoding="utf-8").splitlines()[1] == '"Café; Ltd";12.5;007;2026-12-07'
    await env.run(csv_write, {"path": str(path), "table": EXPECTED[:1], "delimiter": ";", "mode": "append"})
    assert await env.run(csv_read, {"path": str(path)}) == [*EXPECTED, EXPECTED[0]]


async def test_excel_friendly_bom(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    await env.run(csv_write, {"path": str(path), "table": EXPECTED, "encoding": "utf-8-sig"})
    assert path.read_bytes().startswith(b"\xef\xbb\xbfname,")


async def test_csv_errors_are_clear(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(BusinessError, match="cannot hold"):
        await env.run(csv_write, {"path": str(path), "table": [{"a": "€ and 中"}], "encoding": "cp1252"})
    with pytest.raises(BusinessError, match="unknown encoding 'klingon'"):
        await env.run(csv_write, {"path": str(path), "table": [{"a": 1}], "encoding": "klingon"})
    path.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(BusinessError, match="unknown encoding 'klingon'"):
        await env.run(csv_read, {"path": str(path), "encoding": "klingon"})
    with pytest.raises(BusinessError, match=r"csv\.write: table must be a table"):
        await env.run(csv_write, {"path": str(path), "table": "a,b"})
    with pytest.raises(StepError, match="delimiter"):
        await env.run(csv_read, {"path": str(path), "delimiter": ";;"})


async def test_an_unnamed_first_column_is_kept(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "index.csv"
    path.write_text(",a\n0,x\n1,y\n", encoding="utf-8")
    assert await env.run(csv_read, {"path": str(path)}) == [{"column_1": 0, "a": "x"}, {"column_1": 1, "a": "y"}]


def test_read_csv_rows_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("i\n" + "".join(f"{i}\n" for i in range(5000)), encoding="utf-8")
    with read_csv_rows(path) as rows:
        assert rows.columns == ("i",)
        assert next(iter(rows)) == {"i": 0}
