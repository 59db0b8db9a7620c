"""Wrong-typed JSON lines: isolated by one type check per line, as a per-line decode would."""

from __future__ import annotations

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parsers.jsonlines import TYPE_MISMATCH, decode_objects
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
