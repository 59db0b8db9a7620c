"""Everything the report shows, gathered from the frames into one plain structure.

:func:`build_report` is pure: the frames, the inventory, the ATT&CK tables, the period
and the time of writing go in; a :class:`Report` (plain values, ready for the template)
comes out. :func:`respond.report.render.render_html` turns it into HTML.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from markupsafe import Markup

from enrich.attack import AttackCatalog
from enrich.inventory import AssetInventory
from respond.incidents import severity_label
from respond.report.attack import MatrixColumn, attack_matrix
from respond.report.charts import severity_state_chart, timeline_chart
from respond.report.labels import Language, labels
from respond.report.silent import SilentSource
from respond.report.summary import (
    SEVERITY_LABELS,
    STATES,
    affected_hosts,
    affected_systems,
    ministry_overview,
    severity_state_counts,
    technique_counts,
    timeline,
    top_rules,
)

__all__ = ["Report", "ReportData", "build_report", "inventory_ministries"]


@dataclass(frozen=True, slots=True)
class ReportData:
    """What a source read for one report.

    Attributes
    ----------
    incidents, alerts
        Frames of :mod:`respond.report.frames`: the incidents whose last alert falls in
        the period, the alerts of the period (both for the ministry, if one was asked).
    silent_sources
        The log sources silent now (of the ministry, if one was asked), or ``None`` when
        the source does not track them.
    source
        Where the data came from, for the reader.
    truncated
        The source held more than was read (the report says so).
    """

    incidents: pl.DataFrame
    alerts: pl.DataFrame
    silent_sources: list[SilentSource] | None
    source: str
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """The report's content, in the words of one language."""

    lang: Language
    words: dict[str, str]
    title: str
    ministry: dict[str, str | None] | None
    period: str
    generated: str
    source: str
    truncated: bool
    totals: dict[str, int]
    severity_rows: list[dict[str, Any]]
    severity_chart: Markup
    timeline_chart: Markup
    matrix: list[MatrixColumn]
    matrix_top: int
    rules: list[dict[str, Any]]
    hosts: list[dict[str, Any]]
    systems: list[dict[str, Any]]
    silent: list[dict[str, Any]] | None
    overview: list[dict[str, Any]] | None
    incidents: list[dict[str, Any]]
    incidents_not_listed: int
    techniques: dict[str, int] = field(default_factory=dict)


def inventory_ministries(inventory: AssetInventory) -> pl.DataFrame:
    """``id, name`` of every ministry the inventory names, sorted by id."""
    assets = pl.concat([inventory.ranges.select("asset"), inventory.hosts.select("asset")]).unnest(
        "asset"
    )
    return (
        assets.select(pl.col("ministry.id").alias("id"), pl.col("ministry.name").alias("name"))
        .filter(pl.col("id").is_not_null())
        .unique("id", keep="first")
        .sort("id")
    )


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``45 min`` (whole minutes, the two largest units).

    >>> _duration(93_780.0), _duration(7_500.0), _duration(59.0)
    ('1 d 2 h', '2 h 5 min', '0 min')
    """
    minutes = int(max(seconds, 0.0) // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _silent_row(source: SilentSource, now: datetime) -> dict[str, Any]:
    until = source.as_of if source.as_of is not None else now
    seconds = (until - source.last_event).total_seconds()
    return {
        "ministry": source.ministry,
        "kind": source.kind,
        "source": source.source,
        "last_event": _time(source.last_event),
        "silent_s": seconds,
        "silent_for": _duration(seconds),
    }


def _alert_rows(alerts: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {
        row["id"]: {
            "id": row["id"],
            "time": _time(row["timestamp"]),
            "severity": severity_label(row["severity"] or 1),
            "rule": row["rule_name"] or row["rule_id"] or "-",
            "message": row["message"] or "",
            "original": row["original"],
        }
        for row in alerts.iter_rows(named=True)
    }


def _incident_rows(
    incidents: pl.DataFrame, alerts: pl.DataFrame, limit: int
) -> tuple[list[dict[str, Any]], int]:
    by_id = _alert_rows(alerts)
    ranked = incidents.sort(
        ["severity", "last_seen", "id"], descending=[True, True, False], nulls_last=True
    )
    rows = []
    for row in ranked.head(limit).iter_rows(named=True):
        listed = [by_id[a] for a in row["alert_ids"] if a in by_id]
        rows.append(
            {
                **row,
                "severity_label": severity_label(row["severity"]),
                "first_seen": _time(row["first_seen"]),
                "last_seen": _time(row["last_seen"]),
                "alerts": listed,
                "not_listed": max(row["alert_count"] - len(listed), 0),
            }
        )
    return rows, max(incidents.height - limit, 0)


def _alert_tactics(alerts: pl.DataFrame) -> dict[str, list[str]]:
    tactics: dict[str, set[str]] = defaultdict(set)
    for techniques, subtechniques, tags in alerts.select(
        "techniques", "subtechniques", "tactics"
    ).iter_rows():
        for technique in [*techniques, *subtechniques]:
            tactics[technique.split(".")[0]].update(tags)
    return {technique: sorted(ids) for technique, ids in tactics.items()}


def _period(since: datetime | None, words: Mapping[str, str]) -> str:
    if since is None:
        return words["all_time"]
    return f"{words['since']} {since:%Y-%m-%d %H:%M} UTC"


def build_report(
    data: ReportData,
    *,
    ministry: str | None,
    since: datetime | None,
    now: datetime,
    lang: Language,
    inventory: AssetInventory,
    catalog: AttackCatalog,
    technique_tactics: Mapping[str, Sequence[str]],
    incident_limit: int = 200,
    top: int = 10,
) -> Report:
    """Gather the report of one ministry (or, with ``ministry=None``, the national one)."""
    words = labels(lang)
    incidents, alerts = data.incidents, data.alerts
    ministries = inventory_ministries(inventory)
    counts = severity_state_counts(incidents)
    table = {(s, st): n for s, st, n in counts.iter_rows()}
    severity_rows = [
        {
            "severity": s,
            "counts": {st: table[(s, st)] for st in STATES},
            "total": sum(table[(s, st)] for st in STATES),
        }
        for s in SEVERITY_LABELS
    ]
    width, bars = timeline(alerts)
    techniques = technique_counts(alerts)
    matrix = attack_matrix(techniques, _alert_tactics(alerts), catalog, technique_tactics)
    listed, not_listed = _incident_rows(incidents, alerts, incident_limit)
    names = dict(ministries.iter_rows())
    overview = None
    if ministry is None:
        overview = ministry_overview(incidents, alerts, ministries).to_dicts()
    silent = None
    if data.silent_sources is not None:
        silent = [_silent_row(source, now) for source in data.silent_sources]
    title = words["title_national"] if ministry is None else words["title_ministry"]
    return Report(
        lang=lang,
        words=words,
        title=title,
        ministry=None if ministry is None else {"id": ministry, "name": names.get(ministry)},
        period=_period(since, words),
        generated=f"{now:%Y-%m-%d %H:%M} UTC",
        source=data.source,
        truncated=data.truncated,
        totals={
            "incidents": incidents.height,
            "open": int((incidents["state"] != "closed").sum()),
            "alerts": alerts.height,
        },
        severity_rows=severity_rows,
        severity_chart=severity_state_chart(counts, words),
        timeline_chart=timeline_chart(width, bars, words),
        matrix=matrix,
        matrix_top=max((c.count for column in matrix for c in column.cells), default=0),
        rules=top_rules(alerts, top).to_dicts(),
        hosts=affected_hosts(alerts, top).to_dicts(),
        systems=affected_systems(alerts, inventory, top).to_dicts(),
        silent=silent,
        overview=overview,
        incidents=listed,
        incidents_not_listed=not_listed,
        techniques=dict(techniques.iter_rows()),
    )
