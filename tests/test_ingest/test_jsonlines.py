"""Wrong-typed JSON lines: isolated by one type check per line, as a per-line decode would."""

from __future__ import annotations

import json

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parsers.jsonlines import TYPE_MISMATCH, _read_lines, decode_objects
from ingest.parsers.sysmon import RAW_DTYPE

DTYPE = pl.Struct(
    {"EventID": pl.String, "Image": pl.String, "EventData": pl.Struct({"User": pl.String})}
)

_scalar = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans())
_value = st.one_of(
    _scalar,
    st.lists(_scalar, max_size=2),
    st.dictionaries(st.text(max_size=2), _scalar, max_size=2),
)
_line = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "EventID": _value,
            "Image": _value,
            "EventData": st.one_of(_value, st.fixed_dictionaries({}, optional={"User": _value})),
        },
    ).map(lambda d: orjson.dumps(d).decode()),
    st.sampled_from(["[1]", "{oops", '"text"']),
)


def _alone(text: str) -> str | None:
    """The reason a line fails when decoded on its own (None: it decodes)."""
    reason: str | None = decode_objects(pl.Series([text]), DTYPE)[1][0]
    return reason


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_line, min_size=1, max_size=12))
def test_a_batch_isolates_exactly_the_lines_that_fail_alone(lines: list[str]) -> None:
    values, reasons = decode_objects(pl.Series(lines), DTYPE)
    assert reasons.to_list() == [_alone(line) for line in lines]
    for line, value, reason in zip(lines, values.to_list(), reasons.to_list(), strict=True):
        if reason is None:
            assert value == pl.Series([line]).str.json_decode(DTYPE)[0]


def test_objects_and_lists_where_sysmon_expects_text_are_type_mismatches() -> None:
    lines = [
        '{"EventID": 1, "Image": "C:\\\\a.exe"}',
        '{"EventID": {"value": 1}}',
        '{"EventID": 1, "Image": ["a", "b"]}',
    ]
    values, reasons = decode_objects(pl.Series(lines), RAW_DTYPE)
    assert reasons.to_list() == [None, TYPE_MISMATCH, TYPE_MISMATCH]
    assert values[0]["EventID"] == "1"


_text = st.one_of(
    st.text(max_size=4),
    st.sampled_from(['{"a": 1}', "{}", "[1, 2]", "[", "{GUID}", "a\nb", "\\"]),
)
_number = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False))
_read_value = st.one_of(
    _value, _text, _number, st.dictionaries(st.sampled_from(["User", "x"]), _text, max_size=2)
)
_read_line = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={"EventID": _read_value, "Image": _read_value, "EventData": _read_value},
    ).map(json.dumps),
    st.sampled_from(["[1]", "{oops", '"text"', "", "  {}  ", '{"EventID":\n1}', '{"a": 1}\r']),
)


def _json_decode(texts: pl.Series) -> pl.Series | None:
    try:
        return texts.str.json_decode(DTYPE)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_read_line, min_size=1, max_size=8))
def test_the_ndjson_reader_reads_what_json_decode_reads_or_steps_aside(lines: list[str]) -> None:
    texts = pl.Series("line", lines)

    read = _read_lines(texts, DTYPE)

    if read is not None:
        expected = _json_decode(texts)
        assert expected is not None
        assert read.dtype == expected.dtype
        assert read.to_list() == expected.to_list()


def test_the_ndjson_reader_takes_plain_sysmon_lines() -> None:
    texts = pl.Series(
        "line", ['{"EventID": 1, "Image": "C:\\\\cmd.exe", "EventData": {"User": "{GUID}"}}']
    )

    read = _read_lines(texts, DTYPE)

    assert read is not None
    assert read.to_list() == [
        {"EventID": "1", "Image": "C:\\cmd.exe", "EventData": {"User": "{GUID}"}}
    ]


def test_the_ndjson_reader_steps_aside_for_an_object_where_text_is_expected() -> None:
    # The reader would give '{"a": 1}'; json_decode refuses the batch.
    texts = pl.Series("line", ['{"EventID": 1}', '{"Image": {"a": 1}}'])

    assert _read_lines(texts, DTYPE) is None
    assert decode_objects(texts, DTYPE)[1].to_list() == [None, TYPE_MISMATCH]


def test_a_batch_read_a_few_thousand_lines_at_a_time_keeps_every_line_in_order() -> None:
    lines = [json.dumps({"EventID": str(n), "Image": f"C:\\{n}.exe"}) for n in range(5_000)]
    texts = pl.Series("line", lines)

    read = _read_lines(texts, DTYPE)

    assert read is not None
    assert read.n_chunks() == 1
    assert read.to_list() == texts.str.json_decode(DTYPE).to_list()


def test_a_bad_line_in_a_later_read_is_still_isolated() -> None:
    lines = [json.dumps({"EventID": str(n)}) for n in range(5_000)]
    lines[4_500] = '{"EventID": 1, "Image": ["a", "b"]}'
    texts = pl.Series("line", lines)

    values, reasons = decode_objects(texts, DTYPE)

    assert _read_lines(texts, DTYPE) is None
    assert [n for n, reason in enumerate(reasons.to_list()) if reason] == [4_500]
    assert values[4_499]["EventID"] == "4499" and values[4_501]["EventID"] == "4501"
