"""Batches whose rows repeat: evaluate each distinct row once, report every row.

Sigma rules read nothing but their own row, so equal rows (over the columns the rules
read) match the same rules. Hosts repeat a lot (services, agents, scheduled tasks): a batch
grouped by those columns can be evaluated once per group, and each match fanned out to
the rows of its group. Grouping costs a hash of every row, so it pays only where the rows
repeat; for a large batch that is judged first on a sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from detect.expressions import INTERNAL_PREFIX

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["ROWS", "SAMPLE_ROWS", "estimated_distinct", "fan_out", "group_rows", "holds_floats"]

ROWS = f"{INTERNAL_PREFIX}rows"
"""The column of :func:`group_rows` holding the rows of each group."""
SAMPLE_ROWS = 20_000
"""A batch over this many rows is grouped only if a sample this size says it repeats."""


def estimated_distinct(keys: pl.DataFrame, sample_rows: int = SAMPLE_ROWS) -> float:
    """How many distinct rows ``keys`` holds, estimated on its first ``sample_rows``.

    The sample's distinct rows, plus, for each further row, the chance that it is one not
    seen yet: the share of the sample's rows whose value occurs there only once
    (Good-Turing). Exact when the sample is the whole frame.

    Examples
    --------
    >>> repeating = pl.DataFrame({"image": ["a.exe", "b.exe"] * 50_000})
    >>> estimated_distinct(repeating)
    2.0
    >>> unique = pl.DataFrame({"line": [str(n) for n in range(100_000)]})
    >>> estimated_distinct(unique)
    100000.0
    """
    sample = keys.head(sample_rows)
    if sample.height == 0:
        return 0.0
    counts = sample.group_by(sample.columns).agg(pl.len().alias(ROWS)).get_column(ROWS)
    once = int((counts == 1).sum())
    return len(counts) + (keys.height - sample.height) * once / sample.height


def group_rows(
    keys: pl.DataFrame, share: float, sample_rows: int = SAMPLE_ROWS
) -> pl.DataFrame | None:
    """The distinct rows of ``keys``, each with its row numbers (``ROWS``, list of u32).

    None where the rows take more than ``share`` of their number in distinct values, as
    estimated (:func:`estimated_distinct`) for a frame longer than ``sample_rows``, then
    as counted.

    Examples
    --------
    >>> keys = pl.DataFrame({"image": ["a.exe", "b.exe", "a.exe", "a.exe"]})
    >>> groups = group_rows(keys, 0.5)
    >>> sorted(zip(groups["image"], groups[ROWS].to_list()))
    [('a.exe', [0, 2, 3]), ('b.exe', [1])]
    >>> group_rows(keys, 0.25) is None
    True
    """
    if share <= 0 or keys.width == 0 or keys.height == 0:
        return None
    # Grouping takes 0.0 and -0.0 as one value, which a rule reading the text can tell apart.
    if any(holds_floats(dtype) for dtype in keys.dtypes):
        return None
    if keys.height > sample_rows and estimated_distinct(keys, sample_rows) > share * keys.height:
        return None
    groups = keys.with_row_index(ROWS).group_by(keys.columns).agg(ROWS)
    return None if groups.height > share * keys.height else groups


def fan_out(pairs: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Turn (group, rule) pairs into (row, rule) pairs: each group's match on all its rows.

    ``pairs`` has ``row`` (the group's position in ``groups``) and ``rule_index``.

    Examples
    --------
    >>> groups = pl.DataFrame({ROWS: [[0, 2], [1]]}, schema={ROWS: pl.List(pl.UInt32)})
    >>> pairs = pl.DataFrame({"row": [0], "rule_index": [7]}, schema=[("row", pl.UInt32),
    ...     ("rule_index", pl.UInt32)])
    >>> fan_out(pairs, groups).rows()
    [(0, 7), (2, 7)]
    """
    rows = groups.select(ROWS).with_row_index("row")
    return pairs.join(rows, on="row").explode(ROWS).select(pl.col(ROWS).alias("row"), "rule_index")


def holds_floats(dtype: PolarsDataType) -> bool:
    """Whether a column of ``dtype`` holds floats (in lists and structs too).

    >>> holds_floats(pl.List(pl.Float32)), holds_floats(pl.String)
    (True, False)
    """
    if isinstance(dtype, pl.List | pl.Array):
        return holds_floats(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(holds_floats(field.dtype) for field in dtype.fields)
    return dtype.is_float()
