"""Correlation alerts (``detect.correlation.ALERT_SCHEMA``) as ECS alert rows.

A correlation alert stands for a group of events over a window, not for one event. Its
document carries the rule (``rule.*``), the severity from the rule level, ``@timestamp`` at
the end of the window, the group's values under their ECS names (``source.ip`` for a
correlation grouped by source address, so incidents group it by that entity), and
``neakta.correlation.*``: the type, the window, the value compared and the ids of the
contributing events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from detect.correlation import CompiledCorrelation
from ingest.schema import TIMESTAMP
from respond.alerts import SEVERITY

__all__ = ["build_correlation_alerts", "group_fields"]


def group_fields(rules: Sequence[CompiledCorrelation]) -> dict[str, tuple[str, ...]]:
    """Rule id -> the event columns its ``group-by`` names, after the pipeline's mapping.

    A correlation over base rules reads its group from their events, so the mapped names
    are the columns; a correlation over correlations keeps the names it was given.
    """
    fields: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        mapped = next((i.group for i in rule.inputs if i.kind == "rule"), rule.group_by)
        fields[rule.id] = tuple(mapped) if len(mapped) == len(rule.group_by) else rule.group_by
    return fields


def build_correlation_alerts(
    alerts: pl.DataFrame, fields: dict[str, tuple[str, ...]], *, ingested: datetime
) -> pl.DataFrame:
    """Alert rows (flat ECS columns and ``_id``) for correlation alerts.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> end = datetime(2026, 11, 20, 8, 20, tzinfo=UTC)
    >>> alerts = pl.DataFrame({"alert_id": ["c1"], "rule_id": ["r9"],
    ...     "rule_title": ["Port Scan From One Source"], "level": ["medium"],
    ...     "tags": [["attack.t1046"]], "description": ["many ports"],
    ...     "correlation_type": ["value_count"], "group_by": [["src_ip"]],
    ...     "group_values": [["198.51.100.77"]], "window_start": [end], "window_end": [end],
    ...     "value": [27.0], "event_count": [27], "event_ids": [["e1", "e2"]]})
    >>> rows = build_correlation_alerts(alerts, {"r9": ("source.ip",)}, ingested=end)
    >>> rows.select("_id", "source.ip", "event.severity", "message").row(0)
    ('c1', '198.51.100.77', 47, 'Port Scan From One Source: 198.51.100.77 (27)')
    """
    if alerts.height == 0:
        return pl.DataFrame(schema={"_id": pl.String()})
    present = set(alerts["rule_id"].unique().to_list())
    # name -> position -> the rules that put that field at that position of their group
    places: dict[str, dict[int, list[str]]] = {}
    for rule, columns in fields.items():
        if rule in present:
            for position, name in enumerate(columns):
                places.setdefault(name, {}).setdefault(position, []).append(rule)
    group_columns = [
        pl.coalesce(
            pl.when(pl.col("rule_id").is_in(rules)).then(
                pl.col("group_values").list.get(position, null_on_oob=True)
            )
            for position, rules in by_position.items()
        ).alias(name)
        for name, by_position in sorted(places.items())
    ]
    frame = alerts
    severity = (
        pl.col("level")
        .str.to_lowercase()
        .replace_strict(SEVERITY, default=SEVERITY["medium"], return_dtype=pl.Int64)
    )
    group_text = pl.col("group_values").list.join(", ")
    return frame.select(
        pl.col("alert_id").alias("_id"),
        pl.col("window_end").cast(TIMESTAMP).alias("@timestamp"),
        pl.lit("alert").alias("event.kind"),
        pl.col("alert_id").alias("event.id"),
        severity.alias("event.severity"),
        severity.cast(pl.Float64).alias("event.risk_score"),
        pl.lit(ingested.astimezone(UTC), dtype=TIMESTAMP).alias("event.ingested"),
        pl.format("{}: {} ({})", "rule_title", group_text, pl.col("value").cast(pl.Int64)).alias(
            "message"
        ),
        pl.col("rule_id").alias("rule.id"),
        pl.col("rule_id").alias("rule.uuid"),
        pl.col("rule_title").alias("rule.name"),
        pl.col("description").alias("rule.description"),
        pl.lit("sigma correlation").alias("rule.ruleset"),
        pl.col("level").alias("neakta.rule.level"),
        pl.col("tags"),
        *group_columns,
        pl.col("correlation_type").alias("neakta.correlation.type"),
        pl.col("group_by").alias("neakta.correlation.group_by"),
        pl.col("group_values").alias("neakta.correlation.group_values"),
        pl.col("window_start").cast(TIMESTAMP).alias("neakta.correlation.window_start"),
        pl.col("window_end").cast(TIMESTAMP).alias("neakta.correlation.window_end"),
        pl.col("value").alias("neakta.correlation.value"),
        pl.col("event_count").cast(pl.Int64).alias("neakta.correlation.event_count"),
        pl.col("event_ids").alias("neakta.correlation.event_ids"),
    )
