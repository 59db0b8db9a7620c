"""File sources: plain, gzip, Parquet, directories, growing files; family guessing."""

from __future__ import annotations

import asyncio
import doctest
import gzip
import importlib
from pathlib import Path

import polars as pl
import pytest

from ingest.sources import FileSource, SourceBatch, family_of_file
from ingest.sources.parsing import parse_records

FORTI = (
    "date=2024-05-10 time=11:37:47 devname=FG-MEF-01 srcip=10.1.100.11 srcport=58012 "
    "dstip=81.2.69.142 dstport=80 proto=6 action=close policyid=1"
)
SYSMON = (
    '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1", '
    '"UtcTime": "2024-01-02 03:04:05.678", "Image": "C:\\\\Windows\\\\System32\\\\cmd.exe"}'
)


async def read_all(source: FileSource) -> list[SourceBatch]:
    return [batch async for batch in source.batches()]


def origins(batches: list[SourceBatch]) -> list[str]:
    return [o for b in batches for o in b.records["origin"].to_list()]


async def test_plain_file_batches_bounded_and_blank_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "fw.log"
    path.write_text(f"{FORTI}\n\n{FORTI}\r\n{FORTI}")
    batches = await read_all(FileSource([path], batch_size=2))
    assert origins(batches) == [f"{path}:1", f"{path}:3", f"{path}:4"]
    assert [b.records.height for b in batches] == [1, 2]
    assert {f for b in batches for f in b.records["family"]} == {"firewall"}
    assert batches[-1].records["line"].to_list()[0] == FORTI


async def test_gzip_ndjson_is_read_as_endpoint_lines(tmp_path: Path) -> None:
    path = tmp_path / "day1.ndjson.gz"
    path.write_bytes(gzip.compress(f"{SYSMON}\n{SYSMON}\n".encode()))
    batches = await read_all(FileSource([path]))
    assert batches[0].records.select("family", "origin", "line").rows() == [
        ("endpoint", f"{path}:1", SYSMON),
        ("endpoint", f"{path}:2", SYSMON),
    ]


async def test_parquet_uses_the_line_column_or_the_row_as_json(tmp_path: Path) -> None:
    lines = tmp_path / "lines.parquet"
    pl.DataFrame({"message": [FORTI, "garbage"], "other": [1, 2]}).write_parquet(lines)
    rows = tmp_path / "rows.parquet"
    pl.DataFrame({"EventID": [1], "Image": ["x.exe"]}).write_parquet(rows)
    batches = await read_all(FileSource([lines, rows]))
    assert batches[0].records.select("family", "origin", "line").rows() == [
        ("firewall", f"{lines}:1", FORTI),
        ("firewall", f"{lines}:2", "garbage"),
    ]
    assert batches[1].records.select("family", "line").rows() == [
        ("endpoint", '{"EventID":1,"Image":"x.exe"}')
    ]


async def test_directory_is_its_files_sorted_without_hidden_ones(tmp_path: Path) -> None:
    (tmp_path / "b-web.log").write_text(
        '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1\n'
    )
    (tmp_path / "a-firewall.log").write_text(FORTI + "\n")
    (tmp_path / ".hidden.log").write_text("secret\n")
    batches = await read_all(FileSource([tmp_path]))
    assert [(b.records["family"][0], Path(b.records["source"][0]).name) for b in batches] == [
        ("firewall", "a-firewall.log"),
        ("web", "b-web.log"),
    ]


async def test_oversized_and_undecodable_lines_are_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "fw.log"
    path.write_bytes(b"short\n" + b"x" * 50 + b"\n\xff\xfe bad\n")
    (batch,) = await read_all(FileSource([path], max_record_bytes=20))
    assert batch.records["line"].to_list() == ["short"]
    assert batch.dead.rows() == [
        (str(path), f"{path}:2", "record larger than 20 bytes (50 bytes)", b"x" * 50),
        (str(path), f"{path}:3", "not UTF-8 text", b"\xff\xfe bad"),
    ]


async def test_follow_reads_lines_appended_to_a_growing_file(tmp_path: Path) -> None:
    path = tmp_path / "fw.log"
    path.write_text("one\ntw")
    stop = asyncio.Event()
    source = FileSource([path], follow=True, poll_interval=0.01, stop=stop)
    seen: list[str] = []

    async def consume() -> None:
        async for batch in source.batches():
            seen.extend(batch.records["line"].to_list())

    task = asyncio.create_task(consume())
    await _until(lambda: seen == ["one"])
    with path.open("a") as handle:
        handle.write("o\nthree\n")
    await _until(lambda: seen == ["one", "two", "three"])
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == ["one", "two", "three"]


async def _until(condition: object, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


@pytest.mark.parametrize(
    ("name", "first", "family"),
    [
        ("mef-fortigate.log", None, "firewall"),
        ("sysmon.ndjson", None, "endpoint"),
        ("access.log.gz", None, "web"),
        ("day1.log", b'  {"EventID": 1}', "endpoint"),
        ("day1.log", b"#Software: Microsoft Internet Information Services 10.0", "web"),
        ("day1.log", b"<134>Oct 11 22:14:15 fw1 filterlog: 5,,,1000", "firewall"),
    ],
)
def test_family_of_file_by_name_then_content(name: str, first: bytes | None, family: str) -> None:
    assert family_of_file(Path(name), first) == family


@pytest.mark.parametrize(
    "name",
    [
        "ingest.identity",
        "ingest.deadletter",
        "ingest.testing",
        "ingest.sources.families",
        "ingest.sources.files",
        "ingest.sources.parsing",
        "ingest.sources.records",
        "ingest.sources.kafka",
    ],
)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failed == 0


async def test_iis_fields_directive_carries_over_into_later_batches(tmp_path: Path) -> None:
    path = tmp_path / "u_ex240102.log"
    path.write_text(
        "#Software: Microsoft Internet Information Services 10.0\n"
        "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status\n"
        "2024-01-02 03:04:05 10.0.0.9 POST /login - 401\n"
        "2024-01-02 03:04:06 10.0.0.9 GET /admin - 403\n"
        "2024-01-02 03:04:07 10.0.0.9 GET /shell.aspx cmd=whoami 200\n"
    )
    batches = await read_all(FileSource([path], family="web", batch_size=2))
    parsed = [parse_records(b.records, year=2024) for b in batches]
    assert [p.dead.height for p in parsed] == [0, 0, 0]
    web = [p.events["web"] for p in parsed if "web" in p.events]
    assert [path for events in web for path in events["url.path"]] == [
        "/login",
        "/admin",
        "/shell.aspx",
    ]


async def test_each_file_names_its_end_in_its_last_batch(tmp_path: Path) -> None:
    first, second = tmp_path / "a-firewall.log", tmp_path / "b-firewall.log"
    first.write_text(f"{FORTI}\n{FORTI}\n{FORTI}\n{FORTI}\n")
    second.write_text("")
    source = FileSource([first, second], batch_size=2)
    assert source.inputs == [str(first), str(second)]
    batches = await read_all(source)
    assert [(b.records.height, b.ended) for b in batches] == [
        (2, ()),
        (2, (str(first),)),
        (0, (str(second),)),
    ]
