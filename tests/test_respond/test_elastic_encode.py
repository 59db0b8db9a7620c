"""Documents encoded in Polars are the documents ``iter_documents`` builds row by row."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.documents import iter_documents
from respond.elastic import bulk_actions, encode_documents


def row_by_row(frame: pl.DataFrame) -> list[dict[str, object]]:
    return [document for _, document in iter_documents(frame)]


def decoded(frame: pl.DataFrame) -> list[dict[str, object]]:
    return [orjson.loads(text) for text in encode_documents(frame)]


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

    assert encode_documents(frame).to_list() == [
        '{"event":{"kind":"alert"},"source":{"ip":"10.0.0.1","port":443},'
        '"threat":{"tactic":{"name":["Execution","Persistence"]}}}',
        '{"event":{"kind":"alert"}}',
    ]
    assert decoded(frame) == row_by_row(frame)


def test_quotes_backslashes_unicode_booleans_and_floats_survive() -> None:
    frame = pl.DataFrame(
        {
            "_id": ["x"],
            "process.command_line": ['cmd /c "echo \\\\srv\\share" ក្រសួង'],
            "event.risk_score": [73.5],
            "neakta.flag": [True],
        }
    )

    assert decoded(frame) == row_by_row(frame)


def test_nan_is_left_out_like_a_null() -> None:
    frame = pl.DataFrame({"_id": ["x", "y"], "event.risk_score": [math.nan, 1.0]})

    assert decoded(frame) == [{}, {"event": {"risk_score": 1.0}}]


def test_names_that_do_not_nest_fall_back_to_row_by_row() -> None:
    frame = pl.DataFrame({"_id": ["x"], "host": ["pc1"], "host.name": ["pc1.mef.gov.kh"]})

    assert decoded(frame) == row_by_row(frame)


def test_bulk_actions_write_timestamps_as_iso_8601_utc() -> None:
    frame = pl.DataFrame(
        {"_id": ["a1"], "@timestamp": [datetime(2024, 5, 1, 15, 30, tzinfo=UTC)]}
    ).with_columns(pl.col("@timestamp").dt.convert_time_zone("Asia/Phnom_Penh"))

    (action,) = bulk_actions(frame, index="logs-neakta.alerts-default", op="create")

    assert action.source == '{"@timestamp":"2024-05-01T15:30:00.000000Z"}'


names = st.sampled_from(["a", "b.c", "b.d", "e.f.g", "e.f.h", "e.i", "@timestamp"])
values = st.one_of(st.none(), st.integers(-(2**53), 2**53), st.text(max_size=8))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, values), min_size=1, max_size=6))
def test_any_sparse_frame_encodes_like_row_by_row(cells: list[tuple[str, object]]) -> None:
    columns: dict[str, list[object]] = {"_id": ["r0", "r1"]}
    for name, value in cells:
        kind = "int" if isinstance(value, int) else "str"
        columns[f"{name}.{kind}" if name != "a" else f"a_{kind}"] = [value, None]
    frame = pl.DataFrame(columns, strict=False)

    assert decoded(frame) == row_by_row(frame)
