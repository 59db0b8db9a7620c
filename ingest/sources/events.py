"""Decode structured event files (NDJSON, Parquet) into flat frames, keeping bad lines.

A line that is not a JSON object is never dropped silently: it comes back in
``DecodedEvents.dead`` with its 0-based line number and the reason, and the good lines keep
their own line numbers in ``DecodedEvents.lines`` so a match can point at its source.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol, TypeAlias

import orjson
import polars as pl

__all__ = [
    "CHUNK_BYTES",
    "DEAD_SCHEMA",
    "SAMPLE_LINES",
    "UNREADABLE",
    "DecodedEvents",
    "decode_columns",
    "decode_ndjson",
    "flatten",
    "iter_events_file",
    "read_events_file",
]

UNREADABLE: Final = (OSError, EOFError, pl.exceptions.PolarsError)
"""What reading an events file raises where it cannot be read (a truncated gzip file raises
``EOFError``)."""

CHUNK_BYTES = 128 << 20
"""Bytes of an events file decoded at a time by :func:`iter_events_file`."""

DEAD_SCHEMA: dict[str, pl.DataType] = {
    "raw": pl.String(),
    "position": pl.UInt64(),
    "reason": pl.String(),
}


_NO_DEAD = pl.DataFrame(schema=DEAD_SCHEMA)


@dataclass(frozen=True, slots=True)
class DecodedEvents:
    """Events (flat columns), their 0-based line numbers, and the lines that failed."""

    events: pl.DataFrame
    lines: pl.Series
    dead: pl.DataFrame


def flatten(frame: pl.DataFrame, separator: str = ".") -> pl.DataFrame:
    """Nested structs become dotted columns; lists of scalars become lists of text.

    A rule's test on a list field holds where it holds for some element.

    >>> nested = pl.DataFrame({"process": [{"name": "cmd.exe", "pid": 4}], "tags": [["a", "b"]]})
    >>> flatten(nested).columns
    ['process.name', 'process.pid', 'tags']
    >>> flatten(nested)["tags"].to_list()
    [['a', 'b']]
    """
    while True:
        structs = [n for n, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            break
        exprs: list[pl.Expr] = []
        for name, dtype in frame.schema.items():
            if name in structs and isinstance(dtype, pl.Struct):
                exprs.extend(
                    pl.col(name).struct.field(f.name).alias(f"{name}{separator}{f.name}")
                    for f in dtype.fields
                )
            else:
                exprs.append(pl.col(name))
        frame = frame.select(exprs)
    lists = [n for n, t in frame.schema.items() if isinstance(t, pl.List | pl.Array)]
    return frame.with_columns(pl.col(n).cast(pl.List(pl.String), strict=False) for n in lists)


def decode_ndjson(
    data: bytes, *, first_line: int = 0, line_count: int | None = None
) -> DecodedEvents:
    """Decode NDJSON bytes; blank lines are skipped, undecodable ones dead-lettered.

    ``line_count``: the number of lines of ``data`` (blank ones and a last one without its
    line end included), where the caller has counted them already.

    >>> decoded = decode_ndjson(b'{"a": 1}\\nnot json\\n\\n{"a": 2, "b": {"c": "x"}}\\n')
    >>> decoded.events.to_dicts()
    [{'a': 1, 'b.c': None}, {'a': 2, 'b.c': 'x'}]
    >>> decoded.lines.to_list(), decoded.dead["position"].to_list()
    ([0, 3], [1])
    """
    # Polars' reader refuses every line orjson would refuse, and skips blank ones: when it
    # gives one row per line, no line needs decoding twice.
    count = _line_count(data) if line_count is None else line_count
    try:
        events = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        events = pl.DataFrame()
    if data and events.height == count:
        return _every_line(flatten(events), first_line, count)
    lines = data.splitlines()
    good: list[bytes] = []
    numbers: list[int] = []
    dead_raw: list[str] = []
    dead_pos: list[int] = []
    dead_reason: list[str] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            reason = f"invalid JSON: {error}"
        else:
            if isinstance(value, dict):
                good.append(line)
                numbers.append(number)
                continue
            reason = f"JSON {type(value).__name__} where an object was expected"
        dead_raw.append(line.decode("utf-8", errors="replace"))
        dead_pos.append(number)
        dead_reason.append(reason)
    if good:
        try:
            events = pl.read_ndjson(io.BytesIO(b"\n".join(good)), infer_schema_length=None)
        except pl.exceptions.PolarsError:
            events = _unified([orjson.loads(line) for line in good])
    else:
        events = pl.DataFrame()
    dead = pl.DataFrame(
        {"raw": dead_raw, "position": dead_pos, "reason": dead_reason}, schema=DEAD_SCHEMA
    )
    # One chunk per column: the reader leaves hundreds, which slows every later pass.
    flat = flatten(events).rechunk()
    return DecodedEvents(flat, pl.Series("line", numbers, dtype=pl.UInt64), dead)


def _every_line(events: pl.DataFrame, first_line: int, count: int) -> DecodedEvents:
    """Events read one per line, none dead, in one chunk per column."""
    every = pl.int_range(first_line, first_line + count, dtype=pl.UInt64, eager=True)
    return DecodedEvents(events.rechunk(), every.alias("line"), _NO_DEAD.clear())


def _unified(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Objects whose shapes Polars' reader cannot unify, as one frame.

    A field may be an object in one line and a list in another, say. Nested objects are
    flattened to dotted names first; a name whose values still have no common type has
    every one of them read as its text.

    >>> frame = _unified([{"n": {"a": 1}, "k": 1, "t": ["x"]}, {"n": {"a": [1, 2]}, "k": 2}])
    >>> frame.rows()
    [('1', 1, ['x']), ('[1, 2]', 2, None)]
    """
    flat = [_flat_object(row) for row in rows]
    return pl.DataFrame([_column(name, [row.get(name) for row in flat]) for name in _names(flat)])


_KINDS: Final[dict[type, pl.DataType]] = {
    str: pl.String(),
    bool: pl.Boolean(),
    int: pl.Int64(),
    float: pl.Float64(),
}


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row))


def _column(name: str, values: list[Any]) -> pl.Series:
    """Values of one kind (numbers: integers and floats) typed, any others as text.

    Lists stay lists (of text), so that a test on the field still holds where it holds for
    an element.
    """
    kinds = {type(value) for value in values if value is not None}
    if kinds == {list}:
        texts = [None if value is None else [_text(item) for item in value] for value in values]
        return pl.Series(name, texts, dtype=pl.List(pl.String()))
    if kinds == {int, float}:
        kinds = {float}
    if len(kinds) == 1:
        dtype = _KINDS.get(kinds.pop())
        if dtype is not None:
            try:
                return pl.Series(name, values, dtype=dtype)
            except (OverflowError, TypeError, pl.exceptions.PolarsError):
                pass
    return pl.Series(name, [_text(value) for value in values], dtype=pl.String)


def _flat_object(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, dict):
            flat.update(_flat_object(item, f"{prefix}{name}."))
        else:
            flat[prefix + name] = item
    return flat


def _text(value: Any) -> str | None:
    """A value as text, spaced as Polars' reader writes the JSON of a list or an object."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def read_events_file(path: str | Path) -> DecodedEvents:
    """Read an events file: NDJSON (``.gz`` too) or Parquet (rows numbered from 0)."""
    path = Path(path)
    if path.suffix == ".parquet":
        events = flatten(pl.read_parquet(path))
        lines = pl.Series("line", range(events.height), dtype=pl.UInt64)
        return DecodedEvents(events, lines, pl.DataFrame(schema=DEAD_SCHEMA))
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return decode_ndjson(data)


Columns: TypeAlias = Sequence[str] | None
"""The columns to decode (None: every field)."""


def iter_events_file(
    path: str | Path,
    chunk_bytes: int = CHUNK_BYTES,
    columns: Columns | Callable[[], Columns] = None,
) -> Generator[DecodedEvents, None, None]:
    """Read an events file about ``chunk_bytes`` at a time, cut at line ends (Parquet: whole).

    Line numbers and dead letters count from the start of the file, as with
    :func:`read_events_file`; memory is bounded by two chunks, not the file: the next one
    is read and decoded in a thread while the caller works on this one. With ``columns``,
    a chunk gives only those where :func:`decode_columns` can, which is faster; otherwise
    it is decoded whole. ``columns`` may be a function: it is called once, in the reading
    thread, when the first block has been read, so the caller can work them out (compile
    its rules) while the file is read; what it raises, the first chunk raises.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        if callable(columns):
            columns()
        yield read_events_file(path)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="events-ahead") as pool:
        chunks = _decoded_chunks(path, chunk_bytes, columns)
        try:
            pending = pool.submit(next, chunks, None)
            while (chunk := pending.result()) is not None:
                pending = pool.submit(next, chunks, None)
                yield chunk
        finally:
            # The caller stopped early or a chunk failed: let the thread finish its chunk.
            pending.cancel()
            wait([pending])
            chunks.close()


def _decoded_chunks(
    path: Path, chunk_bytes: int, columns: Columns | Callable[[], Columns]
) -> Generator[DecodedEvents, None, None]:
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        first = 0
        if isinstance(stream, gzip.GzipFile):
            # Decompressing costs far more than counting: counted as it comes.
            blocks, count_lines = _blocks(stream, chunk_bytes), _line_count
        else:
            large = os.fstat(stream.fileno()).st_size > _COUNT_IN_PLACE_BLOCKS * chunk_bytes
            blocks = _file_blocks(stream, chunk_bytes)
            count_lines = _line_count_in_place if large else _line_count
        for block in blocks:
            count = count_lines(block)
            if callable(columns):
                columns = columns()
            decoded = None
            if columns is not None:
                decoded = decode_columns(block, columns, first_line=first, line_count=count)
            if decoded is None:
                decoded = decode_ndjson(block, first_line=first, line_count=count)
            yield decoded
            first += count


# The types a column may take when every one of its values is a scalar of one kind; a
# column of any other type (structs, lists, 128-bit integers) is decoded whole.
_SCALARS: Final = (pl.String(), pl.Int64(), pl.Float64(), pl.Boolean())
# Lines whose types stand for the whole of the data (see :func:`decode_columns`).
SAMPLE_LINES: Final = 1_000
# What a number, a boolean, a list or an object reads as where a column is read as text.
_NOT_PLAIN_TEXT: Final = r"^(?:-?[0-9]|\[|\{|true$|false$)"


def decode_columns(
    data: bytes,
    columns: Sequence[str],
    *,
    first_line: int = 0,
    line_count: int | None = None,
) -> DecodedEvents | None:
    """Decode only ``columns`` of NDJSON bytes, each typed as decoding every field types it.

    Decoding every field infers each one's type from all the lines, which costs more than
    the decoding itself. Here the types come from the first :data:`SAMPLE_LINES` lines, and
    the reader, told them, refuses any later value that does not fit an integer, float or
    boolean column; a column that is text in the sample is text whatever else it holds.
    A column no sampled line gives a value is read as text, which is what its values read
    as anyway unless one is a number, a boolean, a list or an object: where any value of it
    reads like one of those, the answer is None. None too (the caller decodes everything) where a
    name is dotted (a nested field), where the sample holds a struct or a list for a
    column, or where any line is blank or not a JSON object.

    Examples
    --------
    >>> data = b'{"a": 1, "b": "x", "c": {"d": 1}}\\n{"a": 2, "b": "y"}\\n'
    >>> decode_columns(data, ["a", "b", "e"]).events.rows()
    [(1, 'x', None), (2, 'y', None)]
    >>> decode_columns(data, ["c"]) is None
    True
    """
    if any("." in name for name in columns):
        return None
    count = _line_count(data) if line_count is None else line_count
    end = 0
    for _ in range(min(count, SAMPLE_LINES)):
        end = data.find(b"\n", end) + 1 or len(data)
    try:
        sample = pl.read_ndjson(io.BytesIO(data[:end]), infer_schema_length=None).schema
    except pl.exceptions.PolarsError:
        return None
    schema: dict[str, pl.DataType] = {}
    unseen = []
    for name in columns:
        dtype = sample.get(name, pl.Null())
        if dtype == pl.Null():
            unseen.append(name)
            dtype = pl.String()
        elif dtype not in _SCALARS:
            return None
        schema[name] = dtype
    try:
        events = pl.read_ndjson(io.BytesIO(data), schema=schema)
    except pl.exceptions.PolarsError:
        return None
    if not data or events.height != count:
        return None
    if any(events.get_column(name).str.contains(_NOT_PLAIN_TEXT).any() for name in unseen):
        return None
    return _every_line(events, first_line, count)


def _line_count(data: bytes) -> int:
    """Lines of ``data``: its line ends, and one more where the last line has none."""
    return data.count(b"\n") + (not data.endswith(b"\n"))


def _line_count_in_place(data: bytes) -> int:
    """:func:`_line_count` by Polars over the bytes in place, on its threads.

    ``bytes.count`` holds the GIL throughout (80 ms for 128 MiB, one core) while the
    thread that compiles and evaluates waits for it; Polars takes about 15 ms. The view
    needs pyarrow, whose import (about 0.15 s) only a file of several blocks pays back.
    """
    import pyarrow as pa

    view = pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])
    return int(pl.Series(view).eq(ord("\n")).sum()) + (not data.endswith(b"\n"))


# A plain file larger than this many blocks has its lines counted in place.
_COUNT_IN_PLACE_BLOCKS: Final = 3


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _blocks(stream: _Readable, size: int) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes, each ending at a line end (the last one may not)."""
    rest = b""
    while block := stream.read(size):
        cut = block.rfind(b"\n") + 1
        if not cut:
            rest += block
            continue
        yield rest + block[:cut] if rest else block[:cut]
        rest = block[cut:]
    if rest:
        yield rest


def _file_blocks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """:func:`_blocks` of a file that can seek: each block read once, whole, into its bytes.

    The end of a block is found first, from the last :data:`_LOOK_BACK` bytes before
    ``size`` (or, where no line ends there, the end of the line that crosses it), so no
    block is put together from pieces.
    """
    total = os.fstat(stream.fileno()).st_size
    start = 0
    while start < total:
        end = min(start + size, total)
        back = max(start, end - _LOOK_BACK)
        stream.seek(back)
        cut = stream.read(end - back).rfind(b"\n") + 1
        if cut:
            end = back + cut
        else:
            stream.seek(end)
            end += len(stream.readline())
        stream.seek(start)
        block = stream.read(end - start)
        if not block:
            return
        yield block
        start += len(block)


_LOOK_BACK: Final = 1 << 20
