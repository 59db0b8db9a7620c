"""Assemble a batch's alerts: rule matches and indicator hits, enriched, then incidents.

Per family batch:

1. threat-intel indicators are matched against the whole batch (a detection of its own:
   one "indicator match" alert per event that holds an indicator);
2. the rows that matched a rule or an indicator are tagged with the asset inventory
   (ministry, system, criticality), and only those rows: enrichment never touches the
   events nobody alerts on;
3. :func:`respond.alerts.build_alerts` turns each (row, rule) match into an ECS alert
   with a deterministic ``_id``; indicator hits, ATT&CK names and GeoIP are attached;
4. correlation alerts are built and enriched by :func:`correlation_alerts`;
5. the incident tracker groups the alerts into incidents (:func:`with_incidents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

from detect import CompiledRule
from detect.correlation import CompiledCorrelation
from enrich import (
    AssetInventory,
    AttackCatalog,
    GeoReader,
    IndicatorSet,
    attach_indicators,
    geoip,
    match_indicators,
    tag_assets,
    tag_attack,
)
from respond.alerts import build_alerts, rule_metadata
from respond.correlated import build_correlation_alerts, group_fields
from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch

__all__ = [
    "INDICATOR_RULE_ID",
    "Lookups",
    "assemble_alerts",
    "correlation_alerts",
    "indicator_hits",
    "indicator_rule",
    "with_incidents",
]

INDICATOR_RULE_ID: Final = "5f0c2d4e-7a1b-4c3d-9e8f-0a1b2c3d4e5f"
"""``rule.id`` of the alerts raised by an indicator of compromise in an event."""


@dataclass(frozen=True, slots=True)
class Lookups:
    """The enrichment tables; None where one is not configured."""

    attack: AttackCatalog
    inventory: AssetInventory | None = None
    indicators: IndicatorSet | None = None
    geoip: GeoReader | None = None
    asn: GeoReader | None = None


def indicator_rule() -> pl.DataFrame:
    """The rule metadata (see :func:`respond.alerts.rule_metadata`) of indicator alerts."""
    meta = rule_metadata([])
    row = {
        "rule_index": 0,
        "rule.id": INDICATOR_RULE_ID,
        "rule.uuid": INDICATOR_RULE_ID,
        "rule.name": "Threat intelligence indicator in an event",
        "rule.description": "An address, domain, URL or file hash of a loaded indicator "
        "of compromise occurs in the event (see threat.enrichments).",
        "rule.ruleset": "neakta",
        "neakta.rule.level": "high",
        "tags": ["attack.command-and-control"],
    }
    return pl.DataFrame([row], schema=meta.schema)


def indicator_hits(events: pl.DataFrame, indicators: IndicatorSet | None) -> pl.DataFrame:
    """Which rows of ``events`` hold which indicator (no rows without indicators)."""
    if indicators is None or indicators.indicators.height == 0:
        return pl.DataFrame(schema={"row": pl.UInt32})
    return match_indicators(events, indicators.indicators)


def assemble_alerts(
    events: pl.DataFrame,
    matches: pl.DataFrame,
    rules: Sequence[CompiledRule],
    hits: pl.DataFrame,
    *,
    lookups: Lookups,
    now: datetime,
    indicator_meta: pl.DataFrame,
) -> list[pl.DataFrame]:
    """The enriched alerts of rule ``matches`` and indicator ``hits`` (empty parts left out).

    Parameters
    ----------
    events, matches
        A family batch and its rules' matches (``row``, ``rule_index``).
    rules
        The compiled rules the matches refer to.
    hits
        :func:`indicator_hits` of the batch.
    lookups
        Enrichment tables.
    now
        The processing time (``event.ingested``).
    indicator_meta
        :func:`indicator_rule`, made once.
    """
    rows = pl.concat([matches["row"], hits["row"].unique()]).unique().sort()
    if rows.len() == 0:
        return []
    # Only the rows somebody alerts on are enriched.
    subset = events[rows]
    if lookups.inventory is not None:
        subset = tag_assets(subset, lookups.inventory)
    position = pl.DataFrame({"row": rows, "_at": pl.int_range(rows.len(), eager=True)})
    parts = [
        _alerts(subset, matches, rules, position, now),
        _indicator_alerts(subset, hits, position, now, indicator_meta),
    ]
    return [_attach(part, hits, lookups) for part in parts if part.height]


def correlation_alerts(
    alerts: pl.DataFrame,
    rules: Sequence[CompiledCorrelation],
    lookups: Lookups,
    now: datetime,
) -> pl.DataFrame:
    """Correlation window alerts as ECS alerts, with ATT&CK names and GeoIP."""
    if alerts.height == 0:
        return pl.DataFrame()
    fields = group_fields(rules)
    frame = build_correlation_alerts(alerts, fields, ingested=now)
    frame = tag_attack(frame, lookups.attack, tags="tags")
    return geoip(frame, lookups.geoip, asn_reader=lookups.asn)


def with_incidents(alerts: pl.DataFrame, tracker: IncidentTracker | None) -> SinkBatch:
    """The alerts, linked to the incidents they open or change (none without a tracker)."""
    if tracker is None:
        return SinkBatch(alerts=alerts)
    linked, incidents = tracker.track(alerts)
    return SinkBatch(alerts=linked, incidents=incidents)


def _alerts(
    subset: pl.DataFrame,
    matches: pl.DataFrame,
    rules: Sequence[CompiledRule],
    position: pl.DataFrame,
    now: datetime,
) -> pl.DataFrame:
    if matches.height == 0:
        return pl.DataFrame()
    local = matches.join(position, on="row", how="left", maintain_order="left")
    alerts = build_alerts(subset, local.with_columns(row=pl.col("_at")), rules, ingested=now)
    return alerts.with_columns(local["row"].alias("_row"))


def _indicator_alerts(
    subset: pl.DataFrame,
    hits: pl.DataFrame,
    position: pl.DataFrame,
    now: datetime,
    indicator_meta: pl.DataFrame,
) -> pl.DataFrame:
    if hits.height == 0:
        return pl.DataFrame()
    rows = hits.select("row").unique().sort("row").join(position, on="row", how="left")
    local = rows.select(pl.col("_at").alias("row"), pl.lit(0, dtype=pl.UInt32).alias("rule_index"))
    alerts = build_alerts(subset, local, indicator_meta, ingested=now)
    return alerts.with_columns(rows["row"].alias("_row"))


def _attach(alerts: pl.DataFrame, hits: pl.DataFrame, lookups: Lookups) -> pl.DataFrame:
    if hits.height:
        alerts = attach_indicators(alerts, hits, row="_row")
    alerts = tag_attack(alerts, lookups.attack, tags="tags")
    alerts = geoip(alerts, lookups.geoip, asn_reader=lookups.asn)
    return alerts.drop("_row")
