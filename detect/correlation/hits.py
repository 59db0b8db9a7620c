"""Turn a batch's base-rule matches into correlation hits: one row per (correlation, event).

A hit carries what the windows need and nothing more: the correlation, which of its rules
matched (``pos``), the group key, the event time in microseconds, the event id and the
value the correlation aggregates. Hits that cannot take part are returned as *skipped*,
with the reason, never dropped: events without ``@timestamp``, without a ``group-by``
value, and events later than the allowed lateness.

Lateness and clock skew are decided by :class:`detect.correlation.eventtime.EventTime`
(per input, in that input's own order, so neither depends on how the stream is cut into
batches or how inputs interleave); this module gets its verdict per row: the late floor
and the skew flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from detect.correlation.model import CompiledCorrelation, Input

__all__ = ["HIT_SCHEMA", "KEY_SEPARATOR", "SKIPPED_SCHEMA", "epoch_us", "extract_hits"]

KEY_SEPARATOR: Final = "\x1f"
HIT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "pos": pl.UInt32(),
    "key": pl.String(),
    "ts": pl.Int64(),
    "eid": pl.String(),
    "value": pl.String(),
    "number": pl.Float64(),
}
"""One matched event of one correlation (``ts``: event time, microseconds since epoch)."""

SKIPPED_SCHEMA: Final[dict[str, pl.DataType]] = {
    "rule_id": pl.String(),
    "event.id": pl.String(),
    "@timestamp": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
}
"""Matched events a correlation could not count, and why."""


def epoch_us(events: pl.DataFrame) -> pl.Expr:
    """``@timestamp`` as microseconds since the epoch (null where absent or unreadable)."""
    if "@timestamp" not in events.columns:
        return pl.lit(None, dtype=pl.Int64)
    dtype = events.schema["@timestamp"]
    column = pl.col("@timestamp")
    if dtype == pl.String:
        column = column.str.to_datetime(time_zone="UTC", strict=False)
    elif not isinstance(dtype, pl.Datetime):
        return pl.lit(None, dtype=pl.Int64)
    return column.dt.epoch("us")


def _event_ids(events: pl.DataFrame) -> pl.Expr:
    if "event.id" in events.columns:
        return pl.col("event.id").cast(pl.String)
    # Without ingest's stable id, a hash of the whole row (stable for one Polars version).
    return pl.struct(pl.all()).hash(seed=0).cast(pl.String)


def _group_key(columns: Sequence[str], present: set[str]) -> pl.Expr:
    if not columns:
        return pl.lit("")
    parts = [
        pl.col(c).cast(pl.String) if c in present else pl.lit(None, dtype=pl.String)
        for c in columns
    ]
    return pl.concat_str(parts, separator=KEY_SEPARATOR)


def _value(columns: Sequence[str], present: set[str]) -> tuple[pl.Expr, pl.Expr]:
    if not columns:
        return pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.Float64)
    parts = [
        pl.col(c).cast(pl.String) if c in present else pl.lit(None, dtype=pl.String)
        for c in columns
    ]
    text = pl.concat_str(parts, separator=KEY_SEPARATOR)
    number = (
        pl.col(columns[0]).cast(pl.Float64, strict=False)
        if columns[0] in present
        else pl.lit(None, dtype=pl.Float64)
    )
    return text, number


def _skip(frame: pl.DataFrame, rule_id: str, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.lit(rule_id).alias("rule_id"),
        pl.col("eid").alias("event.id"),
        pl.from_epoch("ts", "us").dt.replace_time_zone("UTC").alias("@timestamp"),
        reason.alias("reason"),
    )


def extract_hits(
    events: pl.DataFrame,
    matches: pl.DataFrame,
    correlations: Sequence[CompiledCorrelation],
    *,
    ts: pl.Series | None = None,
    floor: pl.Series | None = None,
    skewed: pl.Series | None = None,
) -> tuple[dict[int, pl.DataFrame], pl.DataFrame]:
    """Hits per correlation index (``HIT_SCHEMA``) and the skipped ones (``SKIPPED_SCHEMA``).

    ``ts`` is each row's event time in microseconds (default: read from ``@timestamp``),
    ``floor`` the time below which a row is late, ``skewed`` the rows whose clock ran
    ahead (see :class:`detect.correlation.eventtime.Observation`); None: none is.

    >>> from detect.correlation.model import Condition
    >>> rule = CompiledCorrelation(0, "c1", None, "t", "high", (), "", "", (), "event_count",
    ...     60_000_000, ("ip",), False, Condition("gte", 2), None, None,
    ...     (Input(0, "rule", 0, "r", ("ip",), ()),), "<memory>", 1)
    >>> events = pl.DataFrame({"@timestamp": [1_000_000, 2_000_000, 3_000_000],
    ...     "event.id": ["a", "b", "c"], "ip": ["10.0.0.1", None, "10.0.0.1"]},
    ...     schema_overrides={"@timestamp": pl.Datetime("us", "UTC")})
    >>> matches = pl.DataFrame({"row": [0, 1, 2], "rule_index": [0, 0, 0]},
    ...     schema={"row": pl.UInt32, "rule_index": pl.UInt32})
    >>> hits, skipped = extract_hits(events, matches, [rule])
    >>> hits[0].select("key", "ts", "eid").rows()
    [('10.0.0.1', 1000000, 'a'), ('10.0.0.1', 3000000, 'c')]
    >>> skipped.select("event.id", "reason").rows()
    [('b', 'no group-by value: ip')]
    """
    present = set(events.columns)
    size = events.height
    base = events.select(
        (epoch_us(events) if ts is None else pl.lit(ts.cast(pl.Int64))).alias("ts"),
        _event_ids(events).alias("eid"),
    ).with_columns(
        floor=pl.lit(
            floor if floor is not None else pl.repeat(None, size, dtype=pl.Int64, eager=True)
        ).cast(pl.Int64),
        skewed=pl.lit(skewed if skewed is not None else pl.repeat(False, size, eager=True)).cast(
            pl.Boolean
        ),
    )
    by_rule = {
        int(index): rows
        for (index,), rows in matches.select("row", "rule_index")
        .partition_by("rule_index", as_dict=True, include_key=False)
        .items()
    }
    hits: dict[int, list[pl.DataFrame]] = {}
    skipped: list[pl.DataFrame] = []
    # Correlations often share a base rule and group-by: extract such hits once.
    shared: dict[tuple[int, tuple[str, ...], tuple[str, ...]], tuple[pl.DataFrame, ...]] = {}
    for correlation in correlations:
        for given in correlation.inputs:
            rows = by_rule.get(given.index) if given.kind == "rule" else None
            if rows is None or rows.height == 0:
                continue
            cache_key = (given.index, given.group, given.value)
            if cache_key not in shared:
                frame = _input_hits(events, base, rows["row"], given, present)
                late = (pl.col("ts") < pl.col("floor")).fill_null(False)
                bad = pl.col("ts").is_null() | pl.col("skewed") | pl.col("key").is_null() | late
                shared[cache_key] = (
                    frame.filter(~bad).select(list(HIT_SCHEMA)[1:]),
                    frame.filter(bad),
                )
            good, rejected = shared[cache_key]
            if rejected.height:
                skipped.append(_skip(rejected, correlation.id, _reason(given, present)))
            position = pl.lit(given.position, dtype=pl.UInt32).alias("pos")
            hits.setdefault(correlation.index, []).append(good.select(position, pl.all()))
    skipped_frame = (pl.concat(skipped) if skipped else pl.DataFrame(schema=SKIPPED_SCHEMA)).select(
        list(SKIPPED_SCHEMA)
    )
    return {index: pl.concat(parts) for index, parts in hits.items()}, skipped_frame


def _input_hits(
    events: pl.DataFrame, base: pl.DataFrame, rows: pl.Series, given: Input, present: set[str]
) -> pl.DataFrame:
    value, number = _value(given.value, present)
    needed = sorted({*given.group, *given.value} & present)
    frame = base[rows]
    if needed:
        frame = pl.concat([frame, events.select(needed)[rows]], how="horizontal")
    return frame.select(
        pl.lit(given.position, dtype=pl.UInt32).alias("pos"),
        _group_key(given.group, present).alias("key"),
        "ts",
        "eid",
        value.alias("value"),
        number.alias("number"),
        "floor",
        "skewed",
    )


def _reason(given: Input, present: set[str]) -> pl.Expr:
    group = ", ".join(given.group)
    return (
        pl.when(pl.col("ts").is_null())
        .then(pl.lit("no @timestamp"))
        .when(pl.col("skewed"))
        .then(pl.lit("clock skew: stamped beyond the clock plus the allowed skew"))
        .when(pl.col("key").is_null())
        .then(pl.lit(f"no group-by value: {group}"))
        .otherwise(pl.lit("late: before the allowed lateness"))
    )
