"""Dead letters keep the original bytes, the position and the reason."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from ingest.deadletter import NdjsonDeadLetters, dead_letter_documents
from ingest.sources import decode_records
from ingest.sources.parsing import parse_records


def raw_frame(values: list[bytes]) -> pl.DataFrame:
    size = len(values)
    return pl.DataFrame(
        {
            "family": ["endpoint"] * size,
            "source": ["logs.endpoint"] * size,
            "origin": [f"logs.endpoint/0/{n}" for n in range(size)],
            "raw": pl.Series(values, dtype=pl.Binary),
            "header_organization": pl.Series([None] * size, dtype=pl.String),
            "source_organization": pl.Series([None] * size, dtype=pl.String),
        }
    )


def test_oversized_record_is_dead_with_its_bytes_and_position() -> None:
    good, dead = decode_records(raw_frame([b'{"a": 1}', b"y" * 11]), max_bytes=10)
    assert good["origin"].to_list() == ["logs.endpoint/0/0"]
    assert dead.rows() == [
        (
            "logs.endpoint",
            "logs.endpoint/0/1",
            "record larger than 10 bytes (11 bytes)",
            b"y" * 11,
        )
    ]


def test_undecodable_record_is_dead_and_the_batch_goes_on() -> None:
    good, dead = decode_records(raw_frame([b"\xc3\x28", b"ok", b"caf\xc3\xa9"]), max_bytes=99)
    assert good["line"].to_list() == ["ok", "café"]
    assert dead.select("origin", "reason", "raw").rows() == [
        ("logs.endpoint/0/0", "not UTF-8 text", b"\xc3\x28")
    ]


def test_unparsable_records_become_dead_letters_in_input_order() -> None:
    good, _ = decode_records(raw_frame([b"not json", b'{"foo": 1}', b"[1]"]), max_bytes=99)
    parsed = parse_records(good, year=2024)
    assert parsed.dead.select("origin", "reason", "raw").rows() == [
        ("logs.endpoint/0/0", "invalid JSON", b"not json"),
        ("logs.endpoint/0/1", "unrecognized endpoint event shape", b'{"foo": 1}'),
        ("logs.endpoint/0/2", "JSON value is not an object", b"[1]"),
    ]


async def test_ndjson_file_holds_text_or_base64_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "dead" / "letters.ndjson"
    _, dead = decode_records(raw_frame([b"\xff", b"z" * 5]), max_bytes=4)
    sink = NdjsonDeadLetters(path)
    await sink.write(dead)
    await sink.write(dead.head(1))
    await sink.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines == [
        {
            "source": "logs.endpoint",
            "origin": "logs.endpoint/0/0",
            "reason": "not UTF-8 text",
            "raw_base64": "/w==",
        },
        {
            "source": "logs.endpoint",
            "origin": "logs.endpoint/0/1",
            "reason": "record larger than 4 bytes (5 bytes)",
            "raw": "zzzzz",
        },
        lines[0],
    ]
    assert dead_letter_documents(dead.head(1)) == [lines[0]]
