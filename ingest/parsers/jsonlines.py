"""Decode JSON object lines with an explicit schema, isolating the lines that fail.

The fast path is Polars' NDJSON reader, given a few thousand lines at a time, where it
reads exactly what :meth:`polars.Expr.str.json_decode` would (see :func:`_read_lines`),
else :meth:`polars.Expr.str.json_decode` over the whole batch (cut into slices decoded
side by side, one per thread of the Polars pool, when it is large). Polars fails the
whole batch when any line is not valid JSON or does not fit the schema, so only then do
the slower steps run: orjson reads each line once, which names the lines that are not
JSON objects and the objects whose field types do not fit the schema (an
object or a list where a scalar is expected, and so on), and the lines left are decoded
again in one call. That costs about one orjson parse per line, however many lines are
bad. Should Polars still refuse what the type check let through, the batch is halved
around each refused line until it is isolated.
"""

import io
from typing import Any, Final

import orjson
import polars as pl
from polars._typing import PolarsDataType

__all__ = ["INVALID_JSON", "NOT_AN_OBJECT", "TYPE_MISMATCH", "decode_objects", "json_reason"]

INVALID_JSON: Final = "invalid JSON"
NOT_AN_OBJECT: Final = "JSON value is not an object"
TYPE_MISMATCH: Final = "JSON field types do not fit the endpoint schema"

_DECODE_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException)


def json_reason(text: str | None) -> str | None:
    """Why a line is not a JSON object, or None when it is one.

    Examples
    --------
    >>> json_reason("[1, 2]"), json_reason("{oops"), json_reason('{"a": 1}')
    ('JSON value is not an object', 'invalid JSON', None)
    """
    if text is None:
        return INVALID_JSON
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return INVALID_JSON
    return None if isinstance(value, dict) else NOT_AN_OBJECT


# Decoding runs on one thread per expression: a large batch is cut into one slice per
# thread of the Polars pool and the slices are decoded side by side.
_SLICE_LINES: Final = 4_000


def _strings(expr: pl.Expr, dtype: PolarsDataType) -> list[pl.Expr]:
    """The String fields under ``expr`` (a column of ``dtype``), nested structs included."""
    if isinstance(dtype, pl.Struct):
        return [leaf for f in dtype.fields for leaf in _strings(expr.struct.field(f.name), f.dtype)]
    return [expr] if dtype == pl.String else []


_RENDERED: Final = r'^(?:\[|\{"|\{\}$)'

# The reader is given this many lines at a time: a few megabytes, which the allocator
# reuses from one read to the next, where a whole batch's buffer (130 MB for 46,000
# Sysmon lines) is mapped and faulted in afresh every time: about 1-1.5 µs an event of
# CPU in a worker thread, and more under load.
_READ_LINES: Final = 2_048


def _read_lines(texts: pl.Series, dtype: pl.Struct) -> pl.Series | None:
    """``texts.str.json_decode(dtype)`` through Polars' NDJSON reader, or None.

    The reader takes about a third of the time, and gives the same structs where both
    succeed, with one exception: where a String field holds an object or a list, the
    reader writes that value's JSON (``{"a": 1}``, ``[1, 2]``) where ``json_decode``
    fails. None (decode the other way) when a line holds a newline (it would be read as
    two), when the reader fails or reads another number of rows, or when a String field
    starts as such a JSON object or list might.
    """
    if not texts.len() or texts.null_count():
        return None
    if texts.str.contains("[\n\r]").any():
        return None
    schema = {f.name: f.dtype for f in dtype.fields}
    frames: list[pl.DataFrame] = []
    for start in range(0, texts.len(), _READ_LINES):
        part = texts.slice(start, _READ_LINES)
        # One buffer of these lines, joined by Python from their bytes: Polars' own join
        # then .item() copies the buffer twice more.
        lines = io.BytesIO(b"\n".join(part.cast(pl.Binary).to_list()))
        try:
            frame = pl.read_ndjson(lines, schema=schema)
        except _DECODE_ERRORS:
            return None
        if frame.height != part.len():
            return None
        frames.append(frame)
    # The reader gives a chunk per slice it read; later steps run faster on one.
    frame = pl.concat(frames, rechunk=True)
    fields = [leaf for name, kind in frame.schema.items() for leaf in _strings(pl.col(name), kind)]
    # Starts with "[" or '{"', or is "{}": one regular expression per field.
    rendered = [f.str.contains(_RENDERED).any() for f in fields]
    if fields and frame.select(pl.any_horizontal(rendered)).item():
        return None
    return frame.select(pl.struct(pl.all()).alias(texts.name)).to_series()


def _decode(texts: pl.Series, dtype: pl.Struct) -> pl.Series:
    read = _read_lines(texts, dtype)
    if read is not None:
        return read
    slices = min(pl.thread_pool_size(), texts.len() // _SLICE_LINES)
    if slices < 2:
        return texts.str.json_decode(dtype)
    size = -(-texts.len() // slices)
    queries = [
        pl.LazyFrame({"text": texts.slice(start, size)}).select(
            pl.col("text").str.json_decode(dtype)
        )
        for start in range(0, texts.len(), size)
    ]
    return pl.concat([frame.get_column("text") for frame in pl.collect_all(queries)])


def _try_decode(texts: pl.Series, dtype: pl.Struct) -> pl.Series | None:
    try:
        decoded = _decode(texts, dtype).alias(texts.name)
    except _DECODE_ERRORS:
        return None
    # Polars drops rows it reads as empty documents; never trust a length mismatch.
    return decoded if decoded.len() == texts.len() else None


def _fits(value: Any, dtype: PolarsDataType) -> bool:
    """Whether a decoded JSON value can be read as ``dtype`` (null always can)."""
    if value is None:
        return True
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return False
        return all(_fits(value.get(f.name), f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        if not isinstance(value, list):
            return False
        return all(_fits(item, dtype.inner) for item in value)
    # Scalars (read as their JSON text where a string is expected).
    return not isinstance(value, (dict, list))


def _verdict(text: str | None, dtype: pl.Struct) -> str | None:
    """Why a line cannot be decoded into ``dtype``, or None when it can."""
    if text is None:
        return INVALID_JSON
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return INVALID_JSON
    if not isinstance(value, dict):
        return NOT_AN_OBJECT
    return None if _fits(value, dtype) else TYPE_MISMATCH


def _isolate(texts: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, list[int]]:
    """Decode what decodes; return the structs and the indices of lines that do not."""
    decoded = _try_decode(texts, dtype)
    if decoded is not None:
        return decoded, []
    if texts.len() == 1:
        return pl.Series([None], dtype=dtype), [0]
    middle = texts.len() // 2
    head, head_bad = _isolate(texts.slice(0, middle), dtype)
    tail, tail_bad = _isolate(texts.slice(middle), dtype)
    return head.append(tail), head_bad + [middle + index for index in tail_bad]


def decode_objects(texts: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, pl.Series]:
    """Decode one JSON object per line into structs of ``dtype``.

    Parameters
    ----------
    texts
        Lines that should each hold one JSON object.
    dtype
        The struct to decode into; keys it does not name are ignored, values of scalar
        fields are read as their JSON text.

    Returns
    -------
    tuple of polars.Series
        The structs (null where a line failed) and, aligned with them, the reason a
        line failed (null where it decoded).

    Examples
    --------
    >>> dtype = pl.Struct({"a": pl.String})
    >>> values, reasons = decode_objects(pl.Series(['{"a": 1}', "[1]", '{"a": {}}']), dtype)
    >>> values.to_list()
    [{'a': '1'}, None, None]
    >>> reasons.to_list()[1:]
    ['JSON value is not an object', 'JSON field types do not fit the endpoint schema']
    """
    decoded = _try_decode(texts, dtype)
    if decoded is not None:
        return decoded, pl.Series(values=[None] * texts.len(), dtype=pl.String)
    reasons = [_verdict(text, dtype) for text in texts.to_list()]
    objects = pl.Series([reason is None for reason in reasons])
    values, bad = _isolate(texts.filter(objects), dtype)
    object_rows = [index for index, reason in enumerate(reasons) if reason is None]
    for index in bad:
        reasons[object_rows[index]] = TYPE_MISMATCH
    aligned = pl.DataFrame({"row": object_rows, "value": values}).cast({"row": pl.Int64})
    rows = pl.DataFrame({"row": pl.int_range(texts.len(), dtype=pl.Int64, eager=True)})
    structs = rows.join(aligned, on="row", how="left", maintain_order="left")
    return structs.get_column("value"), pl.Series(values=reasons, dtype=pl.String)
