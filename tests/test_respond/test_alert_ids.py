"""The ids of an NDJSON alert file, kept on disk beside it.

A writer started again on a large file reads only what was appended since its index was
brought up to date, and holds none of the file's ids in memory; the index is rebuilt from
the file whenever it no longer describes it.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import orjson
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from respond.alert_ids import AlertIdIndex, alert_ids_path, line_ids
from respond.ndjson import NdjsonAlertWriter, _file_lines
from respond.sinks import Delivery, SinkBatch


def write(path: Path, ids: list[str]) -> tuple[int, int]:
    """One batch of alerts ``ids`` through a fresh writer, closed afterwards: how many
    were written, how many were duplicates."""

    async def run() -> Delivery:
        writer = NdjsonAlertWriter(path)
        try:
            alerts = pl.DataFrame({"_id": ids, "rule.name": ["r"] * len(ids)})
            return await writer.write(SinkBatch(alerts=alerts))
        finally:
            await writer.close()

    done = asyncio.run(run())
    return done.written, done.duplicates


def ids_in(path: Path) -> list[str]:
    """The ids of the file's lines, in order."""
    return list(line_ids(path.read_bytes().splitlines()))


def catch_up(path: Path) -> tuple[int, AlertIdIndex]:
    """Bytes of ``path`` its index had still to read, and the index."""
    index = AlertIdIndex(alert_ids_path(path))
    with path.open("rb") as file:
        return index.catch_up(file.fileno(), _file_lines), index


def test_a_writer_started_again_reads_only_the_lines_appended_since(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    assert write(path, ["a", "b"]) == (2, 0)
    read, index = catch_up(path)
    assert read == 0
    # Another process appends a line: only that line is read.
    line = b'{"_id":"z","rule":{"name":"r"}}\n'
    with path.open("ab") as file:
        file.write(line)
    read, index = catch_up(path)
    assert read == len(line)
    assert index.known(["a", "b", "z", "q"]) == {"a", "b", "z"}
    assert index.count() == 3
    assert write(path, ["z", "b", "c"]) == (1, 2)


def test_an_alert_the_file_holds_is_a_duplicate_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    write(path, ["a", "b"])
    assert write(path, ["b", "c", "c"]) == (1, 2)
    assert ids_in(path) == ["a", "b", "c"]


def test_a_deleted_index_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    write(path, ["a", "b"])
    alert_ids_path(path).unlink()
    assert write(path, ["a", "c"]) == (1, 1)
    assert ids_in(path) == ["a", "b", "c"]


def test_the_index_is_rebuilt_for_a_file_put_in_its_place(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    write(path, ["a", "b"])
    other = tmp_path / "other.ndjson"
    other.write_bytes(b'{"_id":"c"}\n')
    other.replace(path)  # another file (inode) under the same name
    assert write(path, ["a", "c"]) == (1, 1)
    assert ids_in(path) == ["c", "a"]


def test_the_index_is_rebuilt_for_a_file_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    write(path, ["a", "b"])
    size = path.stat().st_size
    # Same file, cut and written again, longer than what the index covered.
    path.write_bytes(b'{"_id":"c","x":"' + b"y" * size + b'"}\n')
    assert write(path, ["a", "c"]) == (1, 1)
    assert ids_in(path) == ["c", "a"]
    # Cut shorter than what the index covered.
    write(path, ["d"])
    path.write_bytes(b'{"_id":"e"}\n')
    assert write(path, ["a", "d", "e"]) == (2, 1)
    assert ids_in(path) == ["e", "a", "d"]


def test_a_line_cut_short_is_not_counted_as_held(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    path.write_bytes(b'{"_id":"a"}\n{"_id":"b","o":{"k":1}')  # a crash mid-line
    assert write(path, ["a", "b"]) == (1, 1)
    assert ids_in(path) == ["a", "b"]


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_line_ids_reads_the_id_of_every_whole_line_and_of_no_line_cut_short(
    identifier: str, cut: int
) -> None:
    line = orjson.dumps({"_id": identifier, "rule": {"name": "r", "tags": ["a"]}})
    assert list(line_ids([line])) == [identifier]
    assert list(line_ids([line[: min(cut, len(line) - 1)]])) == []


def test_on_standard_output_only_the_latest_ids_are_remembered() -> None:
    out = io.StringIO()

    async def run() -> list[tuple[int, int]]:
        writer = NdjsonAlertWriter("-", stdout=out, remember=3)
        done = []
        for ids in (["a", "b"], ["b", "c", "d"], ["d", "a"]):
            alerts = pl.DataFrame({"_id": ids, "rule.name": ["r"] * len(ids)})
            delivery = await writer.write(SinkBatch(alerts=alerts))
            done.append((delivery.written, delivery.duplicates))
        await writer.close()
        return done

    # "b" and "d" are among the latest 3; "a" was forgotten when "c" and "d" came.
    assert asyncio.run(run()) == [(2, 0), (2, 1), (1, 1)]
    assert list(line_ids(out.getvalue().encode().splitlines())) == ["a", "b", "c", "d", "a"]
