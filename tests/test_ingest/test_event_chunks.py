"""An events file read a chunk at a time gives what reading it whole gives."""

from __future__ import annotations

import gzip
import io
import tempfile
import threading
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest.sources.events as events_module
from ingest.sources.events import decode_columns, decode_ndjson, iter_events_file, read_events_file

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


def test_chunks_decode_only_the_columns_asked_for_typed_as_the_whole_chunk_types_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.ndjson"
    fits = b'{"a": 1, "b": "x"}\n' * 3
    misfit = b'{"a": "text", "b": "y"}\n'
    path.write_bytes(fits + fits + misfit)
    chunks = list(iter_events_file(path, chunk_bytes=len(fits), columns=["a"]))
    assert [c.events.columns for c in chunks] == [["a"], ["a"], ["a"]]
    assert [c.events["a"].to_list() for c in chunks] == [[1, 1, 1], [1, 1, 1], ["text"]]
    assert pl.concat([c.lines for c in chunks]).to_list() == list(range(7))


def test_columns_worked_out_while_the_first_block_is_read(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1, "b": "x"}\n' * 6)
    asked: list[str] = []
    released = threading.Event()

    def columns() -> list[str]:
        asked.append(threading.current_thread().name)
        # The caller is still busy (compiling rules) when the block has been read.
        assert released.wait(5)
        return ["b"]

    chunks = iter_events_file(path, chunk_bytes=40, columns=columns)
    threading.Timer(0.05, released.set).start()
    found = list(chunks)
    assert len(found) == 3 and [c.events.columns for c in found] == [["b"]] * 3
    assert len(asked) == 1 and asked[0].startswith("events-ahead")

    def broken() -> list[str]:
        raise ValueError("no rules")

    with pytest.raises(ValueError, match="no rules"):
        next(iter_events_file(path, chunk_bytes=40, columns=broken))


def test_a_value_past_the_sample_that_does_not_fit_decodes_the_chunk_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "SAMPLE_LINES", 1)
    assert decode_columns(b'{"a": 1}\n{"a": 1.5}\n', ["a"]) is None
    assert decode_columns(b'{"a": 1}\n{"b": [1]}\n', ["b"]) is None
    text = decode_columns(b'{"a": "x"}\n{"a": 1.5}\n', ["a"])
    assert text is not None and text.events["a"].to_list() == ["x", "1.5"]


# Values of every JSON kind, numbers and brackets in text too.
_VALUES = st.sampled_from(
    [
        '"x"', '"7"', '"-1"', '"[1]"', '"{}"', '""', "1", "-0", "12", "99999999999999999999",
        "1.5", "1e3", "true", "false", "null", "[1, 2]", '["x"]', '{"d": 1}', "{}",
    ]
)  # fmt: skip
# Keys spelled plainly or with a \\u escape, and "n" holding an object that names "a". An
# object never names a key twice: where one spelling is escaped, Polars' reader keeps the
# first value when told the fields and the last when it infers them.
_KEYS = st.sampled_from(["a", "b", "c", "n"])
_SPELLINGS = {"a": ('"a"', '"\\u0061"'), "b": ('"b"',), "c": ('"c"', '"\\u0063"'), "n": ('"n"',)}


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        pairs = draw(st.dictionaries(_KEYS, _VALUES, max_size=4))
        if "n" in pairs:
            pairs["n"] = "{" + f'"a": {draw(_VALUES)}' + "}"
        spelled = [f"{draw(st.sampled_from(_SPELLINGS[k]))}: {v}" for k, v in pairs.items()]
        rows.append("{" + ", ".join(spelled) + "}")
    return ("\n".join(rows) + "\n").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_lines(), sample=st.integers(1, 4))
def test_decoding_some_columns_equals_decoding_every_field(data: bytes, sample: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events_module, "SAMPLE_LINES", sample)
        some = decode_columns(data, ["a", "b", "c"])
    whole = decode_ndjson(data).events  # never raises
    if some is None:
        return
    try:
        pl.read_ndjson(data, infer_schema_length=None)
    except pl.exceptions.PolarsError:
        # Shapes Polars cannot read together are decoded again from Python objects, where
        # a float or a list read as text may be written otherwise than Polars writes it.
        return
    assert some.lines.to_list() == list(range(data.count(b"\n")))
    for name in ("a", "b", "c"):
        got = some.events.get_column(name)
        if name in whole.columns and whole.schema[name] != pl.Null():
            assert got.dtype == whole.schema[name], name
            assert got.to_list() == whole.get_column(name).to_list(), name
        else:
            assert got.null_count() == got.len(), name


def test_plain_sysmon_lines_take_the_column_path() -> None:
    line = b'{"EventID": 1, "Image": "C:\\\\Users\\\\a.exe", "Enabled": true, "Ratio": 0.5}\n'
    decoded = decode_columns(line * 3, ["EventID", "Image", "Enabled", "Ratio", "Absent"])
    assert decoded is not None
    assert decoded.events.schema == {
        "EventID": pl.Int64, "Image": pl.String, "Enabled": pl.Boolean, "Ratio": pl.Float64,
        "Absent": pl.String,
    }  # fmt: skip
    assert decoded.events.row(0) == (1, "C:\\Users\\a.exe", True, 0.5, None)


def test_nested_fields_are_decoded_in_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    line = b'{"process": {"name": "cmd.exe"}, "n": 1}\n'
    path.write_bytes(line * 4)
    chunks = list(iter_events_file(path, chunk_bytes=len(line) * 2, columns=["process.name"]))
    assert [c.events["process.name"].to_list() for c in chunks] == [["cmd.exe"] * 2] * 2


def test_shapes_polars_cannot_read_together_are_read_as_text() -> None:
    data = b'{"n": {"a": 1}, "k": 1}\n{"n": {"a": [1, 2]}, "k": 2}\n'
    decoded = decode_ndjson(data)
    assert decoded.events.select("n.a", "k").rows() == [("1", 1), ("[1, 2]", 2)]
    assert decoded.lines.to_list() == [0, 1]
    assert decoded.dead.height == 0


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"\n")), size=st.integers(1, 64))
def test_a_file_is_cut_where_a_stream_is_cut(data: bytes, size: int) -> None:
    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(0)
        from_file = list(events_module._file_blocks(file, size))
    assert from_file == list(events_module._blocks(io.BytesIO(data), size))


def test_a_reader_that_stops_early_leaves_no_thread_behind(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1}\n' * 100)
    chunks = iter_events_file(path, chunk_bytes=9)
    assert next(chunks).events["a"].to_list() == [1]
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("events-ahead")]


def test_a_chunk_that_cannot_be_read_raises_where_it_is_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    whole = gzip.compress(b'{"a": 1}\n' * 10_000)
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(EOFError):
        list(iter_events_file(path, chunk_bytes=1_000))


@pytest.mark.parametrize("end", [b"\n", b""])
def test_lines_are_counted_alike_in_place_and_in_python(end: bytes) -> None:
    data = b'{"a": 1}\n\n{"a": "x"}\r\n' * 1000 + b'{"a": "last"}' + end
    expected = data.count(b"\n") + (not end)
    assert events_module._line_count(data) == expected
    assert events_module._line_count_in_place(data) == expected


def test_a_large_file_with_a_blank_line_keeps_every_line_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[int] = []
    in_place = events_module._line_count_in_place

    def counting(data: bytes) -> int:
        counted.append(len(data))
        return in_place(data)

    monkeypatch.setattr(events_module, "_line_count_in_place", counting)
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1}\n' * 40 + b"\n" + b'{"a": "last"}\n')
    chunks = list(iter_events_file(path, chunk_bytes=90))
    assert counted and sum(counted) == path.stat().st_size
    assert pl.concat([c.lines for c in chunks]).to_list() == [*range(40), 41]
    assert chunks[-1].events["a"][-1] == "last"
