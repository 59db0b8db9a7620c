"""Reading event columns as strings, whatever shape a decoder gave them.

ECS allows arrays for many fields (``host.ip``, ``related.ip``) and a decoded NDJSON
batch may hold numbers where text was expected. The lookups work on strings, so a list
column contributes its first element, a column that cannot become text counts as
absent, and a missing column is a column of nulls: bad input never stops a batch.
"""

from __future__ import annotations

import polars as pl

__all__ = ["string_column"]


def string_column(frame: pl.DataFrame, name: str) -> pl.Series:
    """``frame[name]`` as a String column of the frame's height.

    Examples
    --------
    >>> frame = pl.DataFrame({"host.ip": [["10.0.0.1", "10.0.0.2"], None], "n": [1, 2]})
    >>> string_column(frame, "host.ip").to_list()
    ['10.0.0.1', None]
    >>> string_column(frame, "n").to_list()
    ['1', '2']
    >>> string_column(frame, "absent").to_list()
    [None, None]
    """
    if name not in frame.columns:
        return pl.repeat(None, frame.height, dtype=pl.String(), eager=True).alias(name)
    column = frame.get_column(name)
    if isinstance(column.dtype, pl.List | pl.Array):
        column = column.list.first() if isinstance(column.dtype, pl.List) else column.arr.first()
    if column.dtype == pl.String():
        return column
    if isinstance(column.dtype, pl.Struct | pl.List | pl.Array | pl.Object):
        return pl.repeat(None, frame.height, dtype=pl.String(), eager=True).alias(name)
    return column.cast(pl.String(), strict=False)
