"""Flat, dotted frames to one JSON document per row, in Polars' engine.

The same documents as :func:`respond.documents.iter_documents` (dotted names nested, null
fields left out), built as strings by vectorized expressions: each leaf column becomes
``"leaf":value`` (``struct.json_encode``), siblings are joined skipping nulls, and each
parent wraps its children as ``"parent":{...}`` unless all of them are null. It runs
several times faster than nesting row by row in Python, and the bulk request then sends
the strings as they are.

Frames whose names do not nest (``a`` and ``a.b`` both present) or whose types Polars
cannot encode fall back to the row-by-row path.
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

from respond.documents import ColumnTree, column_tree, iter_documents

__all__ = ["encode_documents"]


def _member(key: str, node: ColumnTree | str) -> pl.Expr:
    """``"key":value`` for one row, or null when there is nothing to write."""
    if isinstance(node, str):
        pair = pl.struct(pl.col(node).alias(key)).struct.json_encode().str.slice(1).str.head(-1)
        return pl.when(pl.col(node).is_not_null()).then(pair)
    body = _members(node)
    prefix = orjson.dumps(key).decode() + ":{"
    return pl.when(body != "").then(pl.concat_str(pl.lit(prefix), body, pl.lit("}")))


def _members(tree: ColumnTree) -> pl.Expr:
    members = [_member(key, node) for key, node in tree.items()]
    return pl.concat_str(members, separator=",", ignore_nulls=True)


def _row_by_row(frame: pl.DataFrame) -> pl.Series:
    with_id = frame.with_columns(pl.lit("").alias("_id")) if "_id" not in frame else frame
    texts = [orjson.dumps(doc, default=str).decode() for _, doc in iter_documents(with_id)]
    return pl.Series("document", texts, dtype=pl.String)


def encode_documents(frame: pl.DataFrame) -> pl.Series:
    """One JSON object per row, from the flat, dotted columns; ``_id`` is left out.

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1", "a2"], "event.kind": ["alert", "alert"],
    ...     "host.name": ["pc1", None], "event.severity": [73, None]})
    >>> encode_documents(frame).to_list()
    ['{"event":{"kind":"alert","severity":73},"host":{"name":"pc1"}}', '{"event":{"kind":"alert"}}']
    """
    data = frame.drop("_id", strict=False)
    tree = column_tree(data.columns)
    if tree is None or not tree:
        return _row_by_row(data)
    floats = [name for name, dtype in data.schema.items() if dtype.is_float()]
    expression: Any = pl.concat_str(pl.lit("{"), _members(tree).fill_null(""), pl.lit("}"))
    try:
        return (
            data.with_columns(pl.col(floats).fill_nan(None))
            .select(expression.alias("document"))
            .to_series()
        )
    except pl.exceptions.PolarsError:
        return _row_by_row(data)
