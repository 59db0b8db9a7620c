"""The report's figures: pure functions over the alert and incident frames.

Every function takes the frames of :mod:`respond.report.frames` (and, for systems, the
asset inventory) and returns a small frame; nothing here reads files or the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import polars as pl

from enrich.assets import tag_assets
from enrich.inventory import AssetInventory
from respond.incidents import severity_label
from respond.report.frames import ADDRESS_COLUMNS

__all__ = [
    "SEVERITY_LABELS",
    "STATES",
    "affected_hosts",
    "affected_systems",
    "ministry_overview",
    "severity_state_counts",
    "technique_counts",
    "timeline",
    "top_rules",
]

SEVERITY_LABELS: Final = ("critical", "high", "medium", "low", "informational")
"""Severity labels, most severe first."""
STATES: Final = ("open", "acknowledged", "closed")
_STEPS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=7),
)
_MAX_BARS: Final = 60


def _labels(severity: pl.Expr) -> pl.Expr:
    return severity.map_elements(severity_label, return_dtype=pl.String())


def severity_state_counts(incidents: pl.DataFrame) -> pl.DataFrame:
    """Incidents per severity label and state: every label x state, zeros included.

    Examples
    --------
    >>> from respond.report.frames import incidents_frame
    >>> frame = incidents_frame([
    ...     {"incident": {"id": "1", "severity": 73, "state": "open"}},
    ...     {"incident": {"id": "2", "severity": 99, "state": "closed"}},
    ... ])
    >>> counts = severity_state_counts(frame)
    >>> counts.filter(pl.col("count") > 0).rows()
    [('critical', 'closed', 1), ('high', 'open', 1)]
    """
    grid = pl.DataFrame({"severity": SEVERITY_LABELS}).join(
        pl.DataFrame({"state": STATES}), how="cross"
    )
    counted = (
        incidents.select(_labels(pl.col("severity")).alias("severity"), "state")
        .group_by("severity", "state")
        .len("count")
    )
    return grid.join(counted, on=["severity", "state"], how="left").with_columns(
        pl.col("count").fill_null(0).cast(pl.Int64())
    )


def timeline(alerts: pl.DataFrame) -> tuple[timedelta, pl.DataFrame]:
    """Alerts per time bucket and severity label.

    The bucket width is chosen so the alerts' span fits in at most 60 bars (one minute
    to one week).

    Returns the width and a frame ``start, severity, count`` (only buckets with alerts).

    Examples
    --------
    >>> from respond.report.frames import alerts_frame
    >>> frame = alerts_frame([
    ...     {"_id": "a", "@timestamp": "2026-11-20T08:00:10Z", "event": {"severity": 73}},
    ...     {"_id": "b", "@timestamp": "2026-11-20T08:00:50Z", "event": {"severity": 73}},
    ...     {"_id": "c", "@timestamp": "2026-11-20T08:30:00Z", "event": {"severity": 21}},
    ... ])
    >>> width, bars = timeline(frame)
    >>> width, bars.select(pl.col("start").dt.strftime("%H:%M"), "severity", "count").rows()
    (datetime.timedelta(seconds=60), [('08:00', 'high', 2), ('08:30', 'low', 1)])
    """
    stamped = alerts.filter(pl.col("timestamp").is_not_null())
    empty = pl.DataFrame(
        schema={"start": alerts.schema["timestamp"], "severity": pl.String(), "count": pl.Int64()}
    )
    if stamped.height == 0:
        return _STEPS[3], empty
    first, last = stamped["timestamp"].min(), stamped["timestamp"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    span = last - first
    width = next((s for s in _STEPS if span / s < _MAX_BARS), _STEPS[-1])
    bars = (
        stamped.select(
            pl.col("timestamp").dt.truncate(width).alias("start"),
            _labels(pl.col("severity").fill_null(1)).alias("severity"),
        )
        .group_by("start", "severity")
        .len("count")
        .with_columns(pl.col("count").cast(pl.Int64()))
        .sort("start", "severity")
    )
    return width, bars


def technique_counts(alerts: pl.DataFrame) -> pl.DataFrame:
    """Alerts per ATT&CK technique and sub-technique id (an alert counts once per id).

    Examples
    --------
    >>> from respond.report.frames import alerts_frame
    >>> tagged = {"technique": {"id": ["T1059"], "subtechnique": {"id": ["T1059.001"]}}}
    >>> frame = alerts_frame([
    ...     {"_id": "a", "threat": tagged},
    ...     {"_id": "b", "threat": {"technique": {"id": ["T1059", "T1105"]}}},
    ... ])
    >>> technique_counts(frame).rows()
    [('T1059', 2), ('T1059.001', 1), ('T1105', 1)]
    """
    ids = alerts.select(
        "id", pl.concat_list("techniques", "subtechniques").list.unique().alias("technique")
    ).explode("technique")
    return (
        ids.filter(pl.col("technique").is_not_null())
        .group_by("technique")
        .len("count")
        .with_columns(pl.col("count").cast(pl.Int64()))
        .sort(["count", "technique"], descending=[True, False])
    )


def top_rules(alerts: pl.DataFrame, limit: int = 10) -> pl.DataFrame:
    """The rules that raised the most alerts: ``rule_id, rule_name, level, count``."""
    return (
        alerts.group_by("rule_id")
        .agg(
            pl.col("rule_name").drop_nulls().first(),
            pl.col("level").drop_nulls().first(),
            pl.len().cast(pl.Int64()).alias("count"),
        )
        .sort(["count", "rule_name"], descending=[True, False], nulls_last=True)
        .head(limit)
    )


def _target() -> pl.Expr:
    """The host an alert is about: its host, else the destination of a connection."""
    return pl.coalesce("host.name", "host.ip", "destination.domain", "destination.ip")


def affected_hosts(alerts: pl.DataFrame, limit: int = 10) -> pl.DataFrame:
    """Hosts with the most alerts: ``host, ministry, count, severity`` (the highest)."""
    return (
        alerts.with_columns(_target().alias("host"))
        .filter(pl.col("host").is_not_null())
        .group_by("host")
        .agg(
            pl.col("ministry").drop_nulls().first(),
            pl.len().cast(pl.Int64()).alias("count"),
            pl.col("severity").max().fill_null(1),
        )
        .with_columns(_labels(pl.col("severity")).alias("severity"))
        .sort(["count", "host"], descending=[True, False])
        .head(limit)
    )


def affected_systems(
    alerts: pl.DataFrame, inventory: AssetInventory, limit: int = 10
) -> pl.DataFrame:
    """Systems of the asset inventory with the most alerts on their hosts or addresses.

    Columns: ``system, ministry, criticality, count, hosts``.

    Examples
    --------
    >>> from enrich.inventory import build_inventory
    >>> from respond.report.frames import alerts_frame
    >>> inventory = build_inventory([
    ...     ("2", ["10.10.101.0/24", "fmis.mef.gov.kh", "mef", "Economy", "FMIS", "critical", ""]),
    ... ])
    >>> frame = alerts_frame([
    ...     {"_id": "a", "destination": {"ip": "10.10.101.7"}},
    ...     {"_id": "b", "host": {"name": "fmis.mef.gov.kh"}},
    ...     {"_id": "c", "host": {"name": "ws-1.mef.gov.kh"}},
    ... ])
    >>> affected_systems(frame, inventory).rows()
    [('FMIS', 'mef', 'critical', 2, 2)]
    """
    addresses = alerts.select(*ADDRESS_COLUMNS, _target().alias("target"))
    tagged = tag_assets(addresses, inventory)
    return (
        tagged.filter(pl.col("neakta.asset.system").is_not_null())
        .group_by("neakta.asset.system")
        .agg(
            pl.col("neakta.asset.ministry.id").first().alias("ministry"),
            pl.col("neakta.asset.criticality").first().alias("criticality"),
            pl.len().cast(pl.Int64()).alias("count"),
            pl.col("target").n_unique().cast(pl.Int64()).alias("hosts"),
        )
        .rename({"neakta.asset.system": "system"})
        .sort(["count", "system"], descending=[True, False])
        .head(limit)
    )


def ministry_overview(
    incidents: pl.DataFrame, alerts: pl.DataFrame, ministries: pl.DataFrame
) -> pl.DataFrame:
    """Incidents and alerts per ministry.

    One row per ministry of ``ministries`` (``id, name``) and per other
    ``organization.id`` seen, most incidents (then alerts) first, then one (id null) for
    what no ministry owns: ``id, name, incidents, open`` (not closed), one column per
    severity label (incidents), ``alerts``.

    Examples
    --------
    >>> from respond.report.frames import alerts_frame, incidents_frame
    >>> incidents = incidents_frame([
    ...     {"incident": {"id": "1", "severity": 99, "state": "open"},
    ...      "organization": {"id": "mef"}},
    ... ])
    >>> alerts = alerts_frame([{"_id": "a", "organization": {"id": "mef"}}, {"_id": "b"}])
    >>> names = pl.DataFrame({"id": ["mef", "moh"], "name": ["Economy", "Health"]})
    >>> ministry_overview(incidents, alerts, names).select(
    ...     "id", "incidents", "open", "critical", "alerts").rows()
    [('mef', 1, 1, 1, 1), ('moh', 0, 0, 0, 0), (None, 0, 0, 0, 1)]
    """
    by_incident = incidents.group_by("ministry").agg(
        pl.len().alias("incidents"),
        (pl.col("state") != "closed").sum().alias("open"),
        *((_labels(pl.col("severity")) == label).sum().alias(label) for label in SEVERITY_LABELS),
    )
    by_alert = alerts.group_by("ministry").agg(pl.len().alias("alerts"))
    seen = pl.concat([by_incident.select("ministry"), by_alert.select("ministry")]).unique()
    others = seen.filter(
        pl.col("ministry").is_not_null() & ~pl.col("ministry").is_in(ministries["id"].implode())
    ).sort("ministry")
    rows = pl.concat(
        [
            ministries.select("id", "name"),
            others.select(pl.col("ministry").alias("id"), pl.lit(None, pl.String()).alias("name")),
            pl.DataFrame(
                {"id": [None], "name": [None]}, schema={"id": pl.String(), "name": pl.String()}
            ),
        ]
    )
    counts = ["incidents", "open", *SEVERITY_LABELS, "alerts"]
    return (
        rows.join(by_incident, left_on="id", right_on="ministry", how="left", nulls_equal=True)
        .join(by_alert, left_on="id", right_on="ministry", how="left", nulls_equal=True)
        .with_columns(pl.col(c).fill_null(0).cast(pl.Int64()) for c in counts)
        .select("id", "name", *counts)
        .sort(
            [pl.col("id").is_null(), "incidents", "alerts", "id"],
            descending=[False, True, True, False],
        )
    )
