"""Decode structured event files (NDJSON, Parquet) into flat frames, keeping bad lines.

A line that is not a JSON object is never dropped silently: it comes back in
``DecodedEvents.dead`` with its 0-based line number and the reason, and the good lines keep
their own line numbers in ``DecodedEvents.lines`` so a match can point at its source.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson
import polars as pl

__all__ = [
    "CHUNK_BYTES",
    "DEAD_SCHEMA",
    "DecodedEvents",
    "decode_ndjson",
    "flatten",
    "iter_events_file",
    "read_events_file",
]

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
    data: bytes,
    *,
    first_line: int = 0,
    schema: Mapping[str, pl.DataType] | None = None,
    line_count: int | None = None,
) -> DecodedEvents:
    """Decode NDJSON bytes; blank lines are skipped, undecodable ones dead-lettered.

    ``schema`` decodes only those fields, so typed, where every line fits it; otherwise
    every field is decoded. ``line_count``: the number of lines of ``data`` (blank ones and a
    last one without its line end included), where the caller has counted them already.

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
        if schema is None:
            events = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
        else:
            events = pl.read_ndjson(io.BytesIO(data), schema=schema)
    except pl.exceptions.PolarsError:
        events = pl.DataFrame()
    if data and events.height == count:
        every = pl.int_range(first_line, first_line + count, dtype=pl.UInt64, eager=True)
        return DecodedEvents(flatten(events).rechunk(), every.alias("line"), _NO_DEAD.clear())
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
            # Shapes Polars cannot unify: decode again and let every value become text.
            rows = [orjson.loads(line) for line in good]
            events = pl.from_dicts(rows, infer_schema_length=None, strict=False)
    else:
        events = pl.DataFrame()
    dead = pl.DataFrame(
        {"raw": dead_raw, "position": dead_pos, "reason": dead_reason}, schema=DEAD_SCHEMA
    )
    # One chunk per column: the reader leaves hundreds, which slows every later pass.
    flat = flatten(events).rechunk()
    return DecodedEvents(flat, pl.Series("line", numbers, dtype=pl.UInt64), dead)


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


def iter_events_file(
    path: str | Path, chunk_bytes: int = CHUNK_BYTES, columns: Sequence[str] | None = None
) -> Iterator[DecodedEvents]:
    """Read an events file about ``chunk_bytes`` at a time, cut at line ends (Parquet: whole).

    Line numbers and dead letters count from the start of the file, as with
    :func:`read_events_file`; memory is bounded by the chunk, not the file. With
    ``columns``, chunks after the first decode only those (typed as the first chunk typed
    them), which is faster; a chunk that does not fit is decoded whole.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        yield read_events_file(path)
        return
    schema: dict[str, pl.DataType] | None = None
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        first = 0
        for block in _blocks(stream, chunk_bytes):
            count = _line_count(block)
            decoded = decode_ndjson(block, first_line=first, schema=schema, line_count=count)
            yield decoded
            first += count
            if columns is not None and schema is None:
                typed = decoded.events.schema
                # A dotted name may be a flattened nested field, which a schema cannot name.
                if all(c in typed and "." not in c for c in columns):
                    schema = {c: typed[c] for c in columns}


def _line_count(data: bytes) -> int:
    """Lines of ``data``: its line ends, and one more where the last line has none."""
    return data.count(b"\n") + (not data.endswith(b"\n"))


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
