"""Decode structured event files (NDJSON, Parquet) into flat frames, keeping bad lines.

A line that is not a JSON object is never dropped silently: it comes back in
``DecodedEvents.dead`` with its 0-based line number and the reason, and the good lines keep
their own line numbers in ``DecodedEvents.lines`` so a match can point at its source.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl

__all__ = ["DEAD_SCHEMA", "DecodedEvents", "decode_ndjson", "flatten", "read_events_file"]

DEAD_SCHEMA: dict[str, pl.DataType] = {
    "raw": pl.String(),
    "position": pl.UInt64(),
    "reason": pl.String(),
}


@dataclass(frozen=True, slots=True)
class DecodedEvents:
    """Events (flat columns), their 0-based line numbers, and the lines that failed."""

    events: pl.DataFrame
    lines: pl.Series
    dead: pl.DataFrame


def flatten(frame: pl.DataFrame, separator: str = ".") -> pl.DataFrame:
    """Nested structs become dotted columns; lists of scalars become one text value.

    >>> nested = pl.DataFrame({"process": [{"name": "cmd.exe", "pid": 4}], "tags": [["a", "b"]]})
    >>> flatten(nested).columns
    ['process.name', 'process.pid', 'tags']
    >>> flatten(nested)["tags"].to_list()
    ['a b']
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
    return frame.with_columns(
        pl.col(n).cast(pl.List(pl.String), strict=False).list.join(" ") for n in lists
    )


def decode_ndjson(data: bytes, *, first_line: int = 0) -> DecodedEvents:
    """Decode NDJSON bytes; blank lines are skipped, undecodable ones dead-lettered.

    >>> decoded = decode_ndjson(b'{"a": 1}\\nnot json\\n\\n{"a": 2, "b": {"c": "x"}}\\n')
    >>> decoded.events.to_dicts()
    [{'a': 1, 'b.c': None}, {'a': 2, 'b.c': 'x'}]
    >>> decoded.lines.to_list(), decoded.dead["position"].to_list()
    ([0, 3], [1])
    """
    good: list[bytes] = []
    numbers: list[int] = []
    dead_raw: list[str] = []
    dead_pos: list[int] = []
    dead_reason: list[str] = []
    for number, line in enumerate(data.splitlines(), start=first_line):
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
    return DecodedEvents(flatten(events), pl.Series("line", numbers, dtype=pl.UInt64), dead)


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
