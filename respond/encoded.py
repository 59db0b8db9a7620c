"""A frame's rows as JSON text, built column by column in Polars' engine.

The sinks write each row as the JSON of its nested document
(:func:`respond.documents.iter_documents`, then ``orjson.dumps``). Nesting row by row in
Python holds the interpreter for tens of microseconds per wide alert row; this builds the
same bytes with vectorized expressions, column by column, off the interpreter.

Exactly the same bytes, or nothing: :func:`encode_rows` returns ``None`` where it cannot
promise that, and the caller takes the row-by-row path. It promises it for frames with a
``_id`` String column without nulls and other columns of these types only:

- String, Boolean and integer columns up to 64 bits, and lists of strings: Polars' JSON
  writer escapes them as orjson does (quotes, backslashes, control characters as
  ``\\uXXXX`` or their short forms; nothing else);
- Float64 columns: each value goes through ``orjson.dumps`` itself (NaN and infinities
  are ``null``, as orjson writes them);
- Datetime columns in microseconds or milliseconds, naive or in UTC, years 1 to 9999: as
  ``datetime.isoformat`` writes them (the fraction only when there is one), with
  ``+00:00`` when the zone is UTC, or naive and ``naive_utc`` is set
  (``orjson.OPT_NAIVE_UTC``).

And for names that nest the same way in every row. A parent object sits among its
siblings where its first non-null field is, which can change from row to row; the
vectorized document fixes one order, so it is used only when that order cannot change
(:func:`_stable`). Columns that are null in every row are left out first (a document
omits nulls).
"""

from __future__ import annotations

import itertools
import threading
from typing import Final

import orjson
import polars as pl

from respond.documents import ColumnTree, column_tree

__all__ = ["encode_rows", "encoded_rows"]

_PLAIN: Final = (
    pl.String,
    pl.Boolean,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


def _supported(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.Datetime):
        return dtype.time_unit in ("us", "ms") and dtype.time_zone in (None, "UTC")
    if isinstance(dtype, pl.List):
        return dtype.inner == pl.String
    return dtype == pl.Float64 or isinstance(dtype, _PLAIN)


def _leaves(node: ColumnTree | str) -> list[str]:
    if isinstance(node, str):
        return [node]
    return [leaf for child in node.values() for leaf in _leaves(child)]


def _stable(tree: ColumnTree, at: dict[str, int], full: set[str]) -> bool:
    """Whether each object's members come in the same order in every row.

    A member sits where its first non-null field is. Members ordered by their first
    column keep that order in every row when each one either has its first column
    filled in every row (``full``), or ends before the next member begins.
    """
    spans = []
    for node in tree.values():
        leaves = _leaves(node)
        first = min(leaves, key=at.__getitem__)
        spans.append((at[first], max(at[leaf] for leaf in leaves), first in full))
        if isinstance(node, dict) and not _stable(node, at, full):
            return False
    spans.sort()
    for (_, last, anchored), (following, _, _) in itertools.pairwise(spans):
        if not anchored and last > following:
            return False
    return True


def _datetime(name: str, dtype: pl.Datetime, utc: bool) -> pl.Expr:
    """``datetime.isoformat()`` as orjson writes it: a fraction only when there is one."""
    column = pl.col(name)
    whole = column.dt.to_string("%Y-%m-%dT%H:%M:%S")
    fraction = column.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f")
    text = pl.when(column.dt.microsecond() == 0).then(whole).otherwise(fraction)
    if utc or dtype.time_zone is not None:
        text = pl.concat_str(text, pl.lit("+00:00"))
    return text.alias(name)


def _in_range(frame: pl.DataFrame, names: list[str]) -> bool:
    """Whether every datetime is one Python can hold (years 1 to 9999)."""
    if not names:
        return True
    years = frame.select(
        pl.min_horizontal(pl.col(names).dt.year().min()).alias("low"),
        pl.max_horizontal(pl.col(names).dt.year().max()).alias("high"),
    ).row(0)
    return all(year is None or 1 <= year <= 9999 for year in years)


def _float_texts(series: pl.Series) -> pl.Series:
    """Each value as orjson writes it, already JSON (null stays null)."""
    texts = [None if v is None else orjson.dumps(v).decode() for v in series.to_list()]
    return pl.Series(series.name, texts, dtype=pl.String)


def _struct(key: str, node: ColumnTree | str) -> pl.Expr:
    if isinstance(node, str):
        return pl.col(node).alias(key)
    return pl.struct([_struct(name, child) for name, child in node.items()]).alias(key)


def _solid(node: ColumnTree | str, full: set[str]) -> bool:
    """Whether every field under ``node`` has a value in every row (none is raw text)."""
    return all(leaf in full for leaf in _leaves(node))


def _run(members: list[tuple[str, ColumnTree | str]]) -> pl.Expr:
    """``"a":...,"b":...`` of members filled in every row, in one JSON encoding."""
    encoded = pl.struct([_struct(key, node) for key, node in members]).struct.json_encode()
    return encoded.str.slice(1).str.head(-1)


def _member(key: str, node: ColumnTree | str, raw: set[str], full: set[str]) -> pl.Expr:
    """``"key":value`` for one row, or null when the row has nothing to write there."""
    if isinstance(node, str):
        if node in raw:  # already JSON text
            pair = pl.concat_str(pl.lit(orjson.dumps(key).decode() + ":"), pl.col(node))
        else:
            pair = _run([(key, node)])
        return pair if node in full else pl.when(pl.col(node).is_not_null()).then(pair)
    body = _members(node, raw, full)
    prefix = orjson.dumps(key).decode() + ":{"
    return pl.when(body != "").then(pl.concat_str(pl.lit(prefix), body, pl.lit("}")))


def _members(tree: ColumnTree, raw: set[str], full: set[str]) -> pl.Expr:
    """The members of one object; consecutive members filled in every row encoded at once."""
    parts: list[pl.Expr] = []
    run: list[tuple[str, ColumnTree | str]] = []
    for key, node in tree.items():
        if _solid(node, full - raw):
            run.append((key, node))
            continue
        if run:
            parts.append(_run(run))
            run = []
        parts.append(_member(key, node, raw, full))
    if run:
        parts.append(_run(run))
    return pl.concat_str(parts, separator=",", ignore_nulls=True)


def encode_rows(frame: pl.DataFrame, *, naive_utc: bool) -> pl.Series | None:
    """Each row's nested document (``_id`` left out) as orjson's JSON text, or None.

    Parameters
    ----------
    frame
        A ``_id`` column and flat, dotted columns.
    naive_utc
        Write naive datetimes with ``+00:00`` (``orjson.OPT_NAIVE_UTC``).

    Returns
    -------
    polars.Series or None
        The text of ``orjson.dumps(document, option=...)`` for each row, in order; None
        where the frame is not one this can promise that for (see the module).

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1", "a2"], "event.kind": ["alert", "alert"],
    ...     "host.name": ["pc1", None], "event.severity": [73, None]})
    >>> encode_rows(frame, naive_utc=True).to_list()
    ['{"event":{"kind":"alert","severity":73},"host":{"name":"pc1"}}', '{"event":{"kind":"alert"}}']
    """
    schema = frame.schema
    if schema.get("_id") != pl.String or frame.get_column("_id").null_count():
        return None
    data = frame.drop("_id")
    if any(name == "_id" or name.startswith("_id.") for name in data.columns):
        return None
    if not all(_supported(dtype) for dtype in data.schema.values()):
        return None
    counts = dict(zip(data.columns, data.null_count().row(0), strict=True)) if data.width else {}
    data = data.select(name for name, count in counts.items() if count < frame.height)
    tree = column_tree(data.columns)
    if tree is None:
        return None
    if not tree:
        return pl.Series("document", ["{}"] * frame.height, dtype=pl.String)
    at = {name: i for i, name in enumerate(data.columns)}
    full = {name for name in data.columns if counts[name] == 0}
    if not _stable(tree, at, full):
        return None
    times = [name for name, dtype in data.schema.items() if isinstance(dtype, pl.Datetime)]
    if not _in_range(data, times):
        return None
    floats = [name for name, dtype in data.schema.items() if dtype == pl.Float64]
    data = data.with_columns(
        *(_datetime(name, data.schema[name], naive_utc) for name in times),  # type: ignore[arg-type]
        *(_float_texts(data.get_column(name)) for name in floats),
    )
    body = _members(tree, set(floats), full)
    document = pl.concat_str(pl.lit("{"), body.fill_null(""), pl.lit("}"))
    return data.select(document.alias("document")).to_series()


_RECENT: list[tuple[pl.DataFrame, bool, pl.Series | None]] = []
_LOCK = threading.Lock()


def encoded_rows(frame: pl.DataFrame, *, naive_utc: bool) -> pl.Series | None:
    """:func:`encode_rows`, built once for the frame every sink is handed.

    The last two results are kept (a batch's alerts and incidents, which the store and the
    alert file both write, at once: a second caller waits for the first one's encoding);
    ``naive_utc`` is part of the key only for frames with naive
    datetimes.

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"]})
    >>> encoded_rows(frame, naive_utc=True) is encoded_rows(frame, naive_utc=False)
    True
    """
    naive = any(
        isinstance(dtype, pl.Datetime) and dtype.time_zone is None
        for dtype in frame.schema.values()
    )
    key = naive_utc and naive
    # Held while encoding: sinks written at once wait for the one encoding the frame.
    with _LOCK:
        for known, utc, texts in _RECENT:
            if known is frame and utc == key:
                return texts
        texts = encode_rows(frame, naive_utc=naive_utc)
        _RECENT[:] = [*_RECENT[-1:], (frame, key, texts)]
        return texts
