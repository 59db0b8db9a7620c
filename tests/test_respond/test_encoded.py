"""Rows encoded in Polars are, byte for byte, what orjson writes of the nested documents."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.documents import iter_documents
from respond.encoded import encode_rows
from respond.ndjson import _alert_lines, _put


def orjson_rows(frame: pl.DataFrame, *, naive_utc: bool) -> list[str]:
    option = orjson.OPT_NAIVE_UTC if naive_utc else None
    return [orjson.dumps(doc, option=option).decode() for _, doc in iter_documents(frame)]


def encoded(frame: pl.DataFrame, *, naive_utc: bool = True) -> list[str]:
    texts = encode_rows(frame, naive_utc=naive_utc)
    assert texts is not None
    return texts.to_list()


def text_of(lines: str | pl.DataFrame) -> str:
    """What :func:`respond.ndjson._put` writes of ``lines`` to a text-only handle."""
    handle = io.StringIO()
    _put(handle, lines)
    return handle.getvalue()


def test_nulls_are_left_out_and_empty_parents_disappear() -> None:
    frame = pl.DataFrame(
        {
            "_id": ["a1", "a2"],
            "event.kind": ["alert", "alert"],
            "source.ip": ["10.0.0.1", None],
            "source.port": [443, None],
            "threat.tactic.name": [["Execution", "Persistence"], None],
        }
    )

    assert encoded(frame) == [
        '{"event":{"kind":"alert"},"source":{"ip":"10.0.0.1","port":443},'
        '"threat":{"tactic":{"name":["Execution","Persistence"]}}}',
        '{"event":{"kind":"alert"}}',
    ]


def test_floats_are_written_as_orjson_writes_them_nan_and_infinity_as_null() -> None:
    frame = pl.DataFrame({"_id": list("abcdef"), "x": [73.0, 1e-7, 1e16, -0.0, math.nan, math.inf]})

    assert encoded(frame) == [
        '{"x":73.0}',
        '{"x":1e-7}',
        '{"x":1e+16}',
        '{"x":-0.0}',
        '{"x":null}',
        '{"x":null}',
    ]


def test_datetimes_as_isoformat_with_a_fraction_only_when_there_is_one() -> None:
    stamps = [datetime(2026, 12, 5, 8, 0, 0), datetime(999, 1, 2, 3, 4, 5, 7)]
    frame = pl.DataFrame({"_id": ["a", "b"], "t": stamps, "u": stamps}).with_columns(
        pl.col("u").dt.replace_time_zone("UTC").dt.cast_time_unit("ms")
    )

    naive = encoded(frame, naive_utc=False)
    utc = encoded(frame)

    assert naive == [
        '{"t":"2026-12-05T08:00:00","u":"2026-12-05T08:00:00+00:00"}',
        '{"t":"0999-01-02T03:04:05.000007","u":"0999-01-02T03:04:05+00:00"}',
    ]
    assert utc[0] == '{"t":"2026-12-05T08:00:00+00:00","u":"2026-12-05T08:00:00+00:00"}'


def test_a_parent_whose_place_changes_from_row_to_row_is_left_to_the_row_by_row_path() -> None:
    # Row 2 starts "a" at a.y, after "b": {"b":1,"a":{"y":2}}; one fixed order cannot do both.
    frame = pl.DataFrame({"_id": ["1", "2"], "a.x": [1, None], "b": [1, 1], "a.y": [2, 2]})

    assert encode_rows(frame, naive_utc=True) is None
    assert orjson_rows(frame, naive_utc=True)[1] == '{"b":1,"a":{"y":2}}'


def test_a_parent_filled_in_every_row_keeps_its_place() -> None:
    frame = pl.DataFrame({"_id": ["1", "2"], "a.x": [1, 1], "b": [None, 1], "a.y": [None, 2]})

    assert encoded(frame) == orjson_rows(frame, naive_utc=True)


@pytest.mark.parametrize(
    "frame",
    [
        pl.DataFrame({"_id": ["1"], "when": [datetime(2026, 1, 1).date()]}),
        pl.DataFrame({"_id": ["1"], "n": [1]}, schema={"_id": pl.String, "n": pl.Int128}),
        pl.DataFrame({"_id": ["1"], "x": [0.1]}, schema={"_id": pl.String, "x": pl.Float32}),
        pl.DataFrame({"_id": ["1"], "t": [datetime(2026, 1, 1, tzinfo=UTC)]}).with_columns(
            pl.col("t").dt.convert_time_zone("Asia/Phnom_Penh")
        ),
        pl.DataFrame({"_id": [None], "a": ["x"]}, schema={"_id": pl.String, "a": pl.String}),
        pl.DataFrame({"_id": ["1"], "host": ["pc1"], "host.name": ["pc1"]}),
        pl.DataFrame({"_id": ["1"], "_id.x": ["y"]}),
    ],
    ids=["date", "int128", "float32", "zone", "null id", "leaf and parent", "under _id"],
)
def test_frames_it_cannot_promise_bytes_for_give_none(frame: pl.DataFrame) -> None:
    assert encode_rows(frame, naive_utc=True) is None


def test_alert_lines_put_the_id_first_and_skip_ids_already_seen() -> None:
    frame = pl.DataFrame(
        {"_id": ["a1", "a2", "a1", "a3"], "event.kind": ["alert", None, "alert", "alert"]}
    )
    seen = {"a3"}

    lines, written, duplicates = _alert_lines(frame, seen)

    assert text_of(lines) == '{"_id":"a1","event":{"kind":"alert"}}\n{"_id":"a2"}\n'
    assert (written, duplicates) == (2, 2)
    assert seen == {"a1", "a2", "a3"}


def test_alert_lines_are_the_same_on_the_row_by_row_path() -> None:
    # A Date column is not encoded in Polars: the lines come from the documents.
    frame = pl.DataFrame(
        {"_id": ["a1", "a2"], "event.kind": ["alert", "alert"], "d": [None, None]},
        schema_overrides={"d": pl.Date},
    )

    assert encode_rows(frame, naive_utc=False) is None
    lines, written, duplicates = _alert_lines(frame, set())

    assert text_of(lines) == (
        '{"_id":"a1","event":{"kind":"alert"}}\n{"_id":"a2","event":{"kind":"alert"}}\n'
    )
    assert (written, duplicates) == (2, 0)


@pytest.mark.parametrize("binary", [True, False], ids=["file", "text only"])
def test_alert_lines_go_to_a_file_as_the_same_bytes(tmp_path: Path, binary: bool) -> None:
    frame = pl.DataFrame({"_id": ["a1", "a2"], "process.command_line": ['cmd "x"', "ក្រសួង"]})
    lines, _, _ = _alert_lines(frame, set())
    assert isinstance(lines, pl.DataFrame)
    path = tmp_path / "alerts.ndjson"

    with path.open("a", encoding="utf-8") as handle:
        if binary:
            _put(handle, lines)
        else:
            handle.write(text_of(lines))
    with path.open("a", encoding="utf-8") as handle:
        _put(handle, lines)

    expected = (
        '{"_id":"a1","process":{"command_line":"cmd \\"x\\""}}\n'
        '{"_id":"a2","process":{"command_line":"ក្រសួង"}}\n'
    )
    assert path.read_text(encoding="utf-8") == expected * 2


# Names that nest, interleave, and sit at several depths.
names = st.lists(
    st.sampled_from(["a", "b.c", "b.d", "e.f.g", "e.f.h", "e.i", "@timestamp", 'k\u00e9y."q"']),
    min_size=1,
    max_size=6,
    unique=True,
)
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
columns: dict[str, tuple[pl.DataType, st.SearchStrategy[Any]]] = {
    "text": (pl.String(), text),
    "int": (pl.Int64(), st.integers(-(2**63), 2**63 - 1)),
    "uint": (pl.UInt64(), st.integers(0, 2**64 - 1)),
    "bool": (pl.Boolean(), st.booleans()),
    "float": (pl.Float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "list": (pl.List(pl.String), st.lists(st.none() | text, max_size=3)),
    "naive": (
        pl.Datetime("us"),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    ),
    "utc": (
        pl.Datetime("us", "UTC"),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
            lambda moment: moment.replace(tzinfo=UTC)
        ),
    ),
}


@st.composite
def frames(draw: st.DrawFn, *, nulls: bool = True) -> pl.DataFrame:
    chosen = draw(names)
    height = draw(st.integers(1, 4))
    data: dict[str, pl.Series] = {"_id": pl.Series([str(i) for i in range(height)])}
    for name in chosen:
        dtype, values = columns[draw(st.sampled_from(sorted(columns)))]
        cell = st.none() | values if nulls else values
        cells = draw(st.lists(cell, min_size=height, max_size=height))
        data[name] = pl.Series(name, cells, dtype=dtype)
    return pl.DataFrame(data)


@settings(max_examples=300, deadline=None)
@given(frames(), st.booleans())
def test_encoded_rows_are_orjson_bytes_or_none(frame: pl.DataFrame, naive_utc: bool) -> None:
    encoded = encode_rows(frame, naive_utc=naive_utc)

    if encoded is not None:
        assert encoded.to_list() == orjson_rows(frame, naive_utc=naive_utc)


@settings(max_examples=100, deadline=None)
@given(frames(nulls=False), st.booleans())
def test_frames_without_nulls_are_always_encoded(frame: pl.DataFrame, naive_utc: bool) -> None:
    encoded = encode_rows(frame, naive_utc=naive_utc)

    assert encoded is not None
    assert encoded.to_list() == orjson_rows(frame, naive_utc=naive_utc)
