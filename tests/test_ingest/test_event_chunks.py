"""An events file read a chunk at a time gives what reading it whole gives."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from ingest.sources.events import iter_events_file, read_events_file

LINES = b'{"a": 1}\nnot json\n\n{"a": 2, "t": ["x", "y"]}\n{"b": "z"}\n[1]\n{"a": 3}\n'


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz"])
def test_chunks_keep_line_numbers_and_dead_letters(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"events{suffix}"
    path.write_bytes(gzip.compress(LINES) if suffix.endswith(".gz") else LINES)
    whole = read_events_file(path)
    chunks = list(iter_events_file(path, chunk_bytes=20))
    assert len(chunks) > 2
    assert pl.concat([c.lines for c in chunks]).to_list() == whole.lines.to_list() == [0, 3, 4, 6]
    dead = pl.concat([c.dead for c in chunks])
    assert dead["position"].to_list() == whole.dead["position"].to_list() == [1, 5]
    events = pl.concat([c.events for c in chunks], how="diagonal_relaxed")
    assert events.select("a", "b").rows() == whole.events.select("a", "b").rows()
    assert whole.events["t"].to_list() == [None, ["x", "y"], None, None]


def test_later_chunks_decode_only_the_columns_asked_for_while_they_fit(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    fits = b'{"a": 1, "b": "x"}\n' * 3
    misfit = b'{"a": "text", "b": "y"}\n'
    path.write_bytes(fits + fits + misfit)
    chunks = list(iter_events_file(path, chunk_bytes=len(fits), columns=["a"]))
    assert [c.events.columns for c in chunks] == [["a", "b"], ["a"], ["a", "b"]]
    assert chunks[1].events["a"].to_list() == [1, 1, 1]
    assert chunks[2].events["a"].to_list() == ["text"]
    assert pl.concat([c.lines for c in chunks]).to_list() == list(range(7))


def test_nested_fields_are_decoded_in_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    line = b'{"process": {"name": "cmd.exe"}, "n": 1}\n'
    path.write_bytes(line * 4)
    chunks = list(iter_events_file(path, chunk_bytes=len(line) * 2, columns=["process.name"]))
    assert [c.events["process.name"].to_list() for c in chunks] == [["cmd.exe"] * 2] * 2
