"""Several processes appending alerts to one file or one standard output.

``neakta run --processes N`` gives its workers one alert file, or its own standard output:
each batch goes in whole, under a POSIX lock, so no line is ever two processes' halves.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

WRITER = """
import asyncio, sys
import polars as pl
from respond.ndjson import NdjsonAlertWriter
from respond.sinks import SinkBatch

name, target, shared = sys.argv[1], sys.argv[2], sys.argv[3] == "shared"
async def main():
    writer = NdjsonAlertWriter(target)
    for batch in range(20):
        # Shared ids: the same alerts raised by every writer, as after a handover.
        ids = [f"{'x' if shared else name}-{batch}-{i}" for i in range(500)]
        # Long lines: a batch is megabytes, written in many pieces.
        text = [name * 2000] * 500
        await writer.write(SinkBatch(alerts=pl.DataFrame({"_id": ids, "text": text})))
    await writer.close()
asyncio.run(main())
"""


def writers(target: str, ids: str = "own") -> None:
    """Three processes, each 20 batches of 500 alerts, at once, to the file ``target``."""
    running = [
        subprocess.Popen([sys.executable, "-c", WRITER, name, target, ids]) for name in "abc"
    ]
    assert [p.wait(120) for p in running] == [0, 0, 0]


def check(path: Path) -> None:
    lines = path.read_bytes().splitlines()
    documents = [orjson.loads(line) for line in lines]  # each line whole
    assert len(documents) == 3 * 20 * 500
    for document in documents:
        assert document["text"] == document["_id"][0] * 2000


def test_processes_appending_to_one_file_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    writers(str(path))
    check(path)


def test_processes_sharing_one_standard_output_never_interleave_lines(tmp_path: Path) -> None:
    # A pipe, as a supervisor's standard output often is.
    path = tmp_path / "out.ndjson"
    with path.open("wb") as out:
        reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out)
        assert reader.stdin is not None
        running = [
            subprocess.Popen([sys.executable, "-c", WRITER, name, "-", "own"], stdout=reader.stdin)
            for name in "abc"
        ]
        assert [p.wait(120) for p in running] == [0, 0, 0]
        reader.stdin.close()
        assert reader.wait(30) == 0
    check(path)


def test_a_line_another_process_cut_short_is_ended_before_the_next_batch(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    path.write_text('{"_id": "x-0", "text": "x"}\n{"_id": "x-1", "te')
    writers(str(path))
    lines = path.read_bytes().splitlines()
    assert lines[:2] == [b'{"_id": "x-0", "text": "x"}', b'{"_id": "x-1", "te']
    (tmp_path / "rest.ndjson").write_bytes(b"\n".join(lines[2:]) + b"\n")
    check(tmp_path / "rest.ndjson")


def test_processes_appending_the_same_alerts_to_one_file_write_each_once(tmp_path: Path) -> None:
    # Each writer takes in the ids the others appended before its next batch.
    path = tmp_path / "alerts.ndjson"
    writers(str(path), ids="shared")
    documents = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    ids = [document["_id"] for document in documents]
    assert len(ids) == len(set(ids)) == 20 * 500
    for document in documents:
        assert document["text"] in ("a" * 2000, "b" * 2000, "c" * 2000)
