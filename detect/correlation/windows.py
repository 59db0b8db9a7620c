"""Sliding event-time windows: when does a correlation fire, and what does its alert say.

Semantics (the plain-Python reference in :mod:`detect.correlation.reference` is the spec):

- A correlation is evaluated at every matched event ``e`` of a group, on the window
  ``(t_e - timespan, t_e]`` of that group's events (ties in time are all inside).
- ``event_count``: events in the window; ``value_count``: distinct non-null values of the
  field; ``value_sum|avg|median|percentile``: that aggregate of the numeric field;
  ``temporal``: distinct referenced rules in the window (or the and/or expression over
  "rule seen in the window"); ``temporal_ordered``: at an event of the last rule, whether
  the rules occurred in order inside the window (latest occurrence of each earlier rule
  at or before the next one).
- An event is evaluated once it is *final*: the watermark (latest time seen minus the
  allowed lateness) has passed it, so its window can no longer change.
- After a group fires at ``t``, it fires again only at an event whose window no longer
  holds ``t`` (``t' - timespan >= t``): one alert per burst, not one per event.

Windows are computed with Polars' grouped ``rolling`` over the events kept in the state,
only for groups that have newly final events.
"""

from __future__ import annotations

import hashlib
from typing import Final

import polars as pl

from detect.correlation.hits import KEY_SEPARATOR
from detect.correlation.model import CompiledCorrelation, Condition, Expression

__all__ = ["ALERT_SCHEMA", "FIRED_SCHEMA", "alert_id", "evaluate"]

_TS: Final = pl.Datetime("us", "UTC")
ALERT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "alert_id": pl.String(),
    "rule_id": pl.String(),
    "rule_title": pl.String(),
    "rule_name": pl.String(),
    "level": pl.String(),
    "tags": pl.List(pl.String()),
    "description": pl.String(),
    "correlation_type": pl.String(),
    "group_by": pl.List(pl.String()),
    "group_values": pl.List(pl.String()),
    "window_start": _TS,
    "window_end": _TS,
    "value": pl.Float64(),
    "event_count": pl.UInt32(),
    "event_ids": pl.List(pl.String()),
}
"""One correlation alert. ``alert_id`` is deterministic: rule id, group values, window end."""

FIRED_SCHEMA: Final[dict[str, pl.DataType]] = {"key": pl.String(), "ts": pl.Int64()}
"""The last time each group of one correlation fired (suppresses repeats in one window)."""


def alert_id(rule_id: str, key: str, end_us: int) -> str:
    """The deterministic id of the alert of ``rule_id`` for a group and window end.

    >>> alert_id("r1", "10.0.0.1", 60_000_000)
    '8e23353057d0b296cfb67244072cd8d0'
    """
    text = f"{rule_id}\x1e{key}\x1e{end_us}".encode()
    return hashlib.sha256(text).hexdigest()[:32]


def _compare(value: pl.Expr, condition: Condition) -> pl.Expr:
    count = condition.count
    match condition.op:
        case "gt":
            return value > count
        case "gte":
            return value >= count
        case "lt":
            return value < count
        case "lte":
            return value <= count
        case "eq":
            return value == count
        case _:
            return value != count


def _present(expression: Expression) -> pl.Expr:
    match expression:
        case ("ref", int(position)):
            return pl.col("val").list.contains(position)
        case (kind, tuple(parts)):
            exprs = [_present(p) for p in parts if not isinstance(p, int)]
            return pl.all_horizontal(exprs) if kind == "and" else pl.any_horizontal(exprs)
    raise ValueError(f"bad expression {expression!r}")


def _aggregate(rule: CompiledCorrelation) -> pl.Expr:
    match rule.type:
        case "event_count":
            return pl.len()
        case "value_count":
            return pl.col("value").drop_nulls().n_unique()
        case "value_sum":
            return pl.col("number").sum()
        case "value_avg":
            return pl.col("number").mean()
        case "value_median":
            return pl.col("number").median()
        case "value_percentile":
            quantile = (rule.percentile or 50.0) / 100
            return pl.col("number").quantile(quantile, interpolation="linear")
        case _:
            if rule.expression is not None:
                return pl.col("pos").unique()
            return pl.col("pos").n_unique()


def _windows(rule: CompiledCorrelation, group: pl.DataFrame, final: pl.Expr) -> pl.DataFrame:
    """(key, ts, val) of every final event whose window satisfies the condition.

    ``group`` holds every kept event that can sit in the window of a newly final one,
    sorted by time, with ``hashed``: a hash of the key.
    """
    span = rule.timespan_us
    if rule.type == "temporal_ordered":
        last = len(rule.inputs) - 1
        current = group.filter(final & (pl.col("pos") == last)).select(
            "key", "ts", cur=pl.col("ts")
        )
        for position in range(last - 1, -1, -1):
            earlier = group.filter(pl.col("pos") == position).select(
                "key", pl.col("ts").alias("found")
            )
            current = (
                current.sort("cur")
                .join_asof(
                    earlier,
                    left_on="cur",
                    right_on="found",
                    by="key",
                    # Both sides are sorted by time; with ``by`` Polars cannot check it.
                    check_sortedness=False,
                )
                .filter(pl.col("found").is_not_null() & (pl.col("found") > pl.col("ts") - span))
                .with_columns(cur=pl.col("found"))
                .drop("found")
            )
        return current.select("key", "ts", pl.lit(float(last + 1)).alias("val"))
    # Rolling is fastest on rows already ordered by group then time; ordering by a hash of
    # the key costs far less than by the key text. Grouping still uses the key itself.
    ordered = group.sort("hashed", maintain_order=True)
    windows = (
        ordered.rolling(
            index_column="ts", period=f"{span}i", group_by=["hashed", "key"], closed="right"
        )
        .agg(_aggregate(rule).alias("val"))
        .filter(final)
        .drop("hashed")
    )
    if rule.expression is not None:
        windows = windows.with_columns(val=_present(rule.expression))
    return windows.with_columns(pl.col("val").cast(pl.Float64)).filter(
        _compare(pl.col("val"), rule.condition).fill_null(False)
    )


def _suppress(candidates: pl.DataFrame, fired: pl.DataFrame, span: int) -> pl.DataFrame:
    """The candidates that fire: per group, greedily, each outside the previous window."""
    remaining = (
        candidates.join(fired.rename({"ts": "last"}), on="key", how="left")
        .filter(pl.col("last").is_null() | (pl.col("ts") - span >= pl.col("last")))
        .drop("last")
    )
    chosen: list[pl.DataFrame] = []
    while remaining.height:
        # Earliest candidate per group (ties in time have equal windows: any one will do).
        first = remaining.sort("ts").group_by("key", maintain_order=True).first()
        chosen.append(first)
        remaining = (
            remaining.join(first.select("key", pl.col("ts").alias("last")), on="key")
            .filter(pl.col("ts") - span >= pl.col("last"))
            .drop("last")
        )
    if not chosen:
        return candidates.clear()
    return pl.concat(chosen)


def evaluate(
    rule: CompiledCorrelation,
    rows: pl.DataFrame,
    fired: pl.DataFrame,
    *,
    low: int | None,
    high: int,
    max_event_ids: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Alerts of ``rule`` for its events with ``low <= ts < high`` (newly final ones).

    ``rows`` are the correlation's kept hits (``HIT_SCHEMA``, sorted by ``ts``), ``fired``
    its last firing per group (``FIRED_SCHEMA``). Returns the alerts (``ALERT_SCHEMA``) and
    the new firings (``FIRED_SCHEMA``).
    """
    span = rule.timespan_us
    times = rows["ts"]
    # ``rows`` is in time order: the ranges below are binary searches and zero-copy slices.
    first_final = 0 if low is None else int(times.search_sorted(low, side="left"))
    stop = int(times.search_sorted(high, side="left"))
    if first_final >= stop:
        return pl.DataFrame(schema=ALERT_SCHEMA), pl.DataFrame(schema=FIRED_SCHEMA)
    # Only events after ``low - timespan`` can be in the window of a newly final event.
    start = 0 if low is None else int(times.search_sorted(low - span, side="right"))
    group = rows.slice(start, stop - start).with_columns(hashed=pl.col("key").hash())
    touched = group.slice(first_final - start)["hashed"].unique()
    # Only groups with a newly final event can fire; the filter keeps the time order.
    group = group.filter(pl.col("hashed").is_in(touched.implode()))
    final = pl.col("ts") >= low if low is not None else pl.lit(True)
    chosen = _suppress(_windows(rule, group, final), fired, span)
    if chosen.height == 0:
        return pl.DataFrame(schema=ALERT_SCHEMA), pl.DataFrame(schema=FIRED_SCHEMA)
    return _alerts(rule, group, chosen, max_event_ids), chosen.select(list(FIRED_SCHEMA))


def _alerts(
    rule: CompiledCorrelation, group: pl.DataFrame, chosen: pl.DataFrame, max_event_ids: int
) -> pl.DataFrame:
    span = rule.timespan_us
    contributing = (
        group.join(chosen.select("key", pl.col("ts").alias("end")), on="key")
        .filter((pl.col("ts") > pl.col("end") - span) & (pl.col("ts") <= pl.col("end")))
        .group_by("key", "end")
        .agg(
            pl.len().cast(pl.UInt32).alias("event_count"),
            pl.col("eid").sort_by("ts", "eid").head(max_event_ids).alias("event_ids"),
        )
    )
    joined = chosen.join(contributing, left_on=["key", "ts"], right_on=["key", "end"])
    ids = [alert_id(rule.id, key, ts) for key, ts in joined.select("key", "ts").iter_rows()]
    values = (
        pl.col("key").str.split(KEY_SEPARATOR)
        if rule.group_by
        else pl.lit([], dtype=pl.List(pl.String))
    )
    return joined.select(
        pl.Series("alert_id", ids, dtype=pl.String),
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.title).alias("rule_title"),
        pl.lit(rule.name, dtype=pl.String).alias("rule_name"),
        pl.lit(rule.level).alias("level"),
        pl.lit(list(rule.tags), dtype=pl.List(pl.String)).alias("tags"),
        pl.lit(rule.description).alias("description"),
        pl.lit(rule.type).alias("correlation_type"),
        pl.lit(list(rule.group_by), dtype=pl.List(pl.String)).alias("group_by"),
        values.alias("group_values"),
        pl.from_epoch(pl.col("ts") - span, "us").dt.replace_time_zone("UTC").alias("window_start"),
        pl.from_epoch("ts", "us").dt.replace_time_zone("UTC").alias("window_end"),
        pl.col("val").alias("value"),
        "event_count",
        "event_ids",
    )
