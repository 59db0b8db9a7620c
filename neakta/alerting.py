"""What a batch's matches become: enriched ECS alerts and the incidents they open or change.

:class:`AlertStage` is the pipeline's ``make_alerts``. Per family batch:

1. threat-intel indicators are matched against the whole batch (a detection of its own:
   one "indicator match" alert per event that holds an indicator);
2. the rows that matched a rule or an indicator are tagged with the asset inventory
   (ministry, system, criticality), and only those rows: enrichment never touches the
   events nobody alerts on;
3. :func:`respond.alerts.build_alerts` turns each (row, rule) match into an ECS alert
   with a deterministic ``_id``; indicator hits, ATT&CK names and GeoIP are attached;
4. correlation rules (when given) see every batch's events and base-rule matches and add
   their own alerts; the matches of base rules that do not generate alerts of their own
   are dropped here;
5. the incident tracker groups the alerts into incidents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import Correlator
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

__all__ = ["INDICATOR_RULE_ID", "AlertStage", "Lookups"]

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


def _indicator_rule() -> pl.DataFrame:
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


@dataclass
class AlertStage:
    """Matches -> enriched alerts -> incidents, as one ``make_alerts`` callable.

    Parameters
    ----------
    lookups
        Enrichment tables.
    tracker
        Groups alerts into incidents; None: alerts only.
    correlator
        Correlation rules and their window state; None: single-event rules only.
    clock
        Gives the processing time (``event.ingested``).
    """

    lookups: Lookups
    tracker: IncidentTracker | None = None
    correlator: Correlator | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    skipped: Counter[str] = field(default_factory=Counter, init=False)
    _indicator_meta: pl.DataFrame = field(default_factory=_indicator_rule, init=False)

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        now = self.clock()
        correlated = None
        if self.correlator is not None:
            result = self.correlator.process(events, matches)
            self.skipped.update(result.skipped.get_column("reason").to_list())
            correlated = self._correlated(result.alerts, now)
            matches = self.correlator.correlations.visible(matches)
        hits = self._indicator_hits(events)
        rows = pl.concat([matches["row"], hits["row"].unique()]).unique().sort()
        if rows.len() == 0 and (correlated is None or correlated.height == 0):
            return SinkBatch()
        # Only the rows somebody alerts on are enriched.
        subset = events[rows]
        if self.lookups.inventory is not None:
            subset = tag_assets(subset, self.lookups.inventory)
        position = pl.DataFrame({"row": rows, "_at": pl.int_range(rows.len(), eager=True)})
        parts = [
            self._alerts(subset, matches, ruleset, position, now),
            self._indicator_alerts(subset, hits, position, now),
        ]
        alerts = [self._attach(part, hits) for part in parts if part.height]
        if correlated is not None and correlated.height:
            alerts.append(correlated)
        if not alerts:
            return SinkBatch()
        return self._incidents(pl.concat(alerts, how="diagonal_relaxed"))

    def finish(self) -> SinkBatch:
        """At the end of a finite stream: the correlation windows still waiting for events."""
        if self.correlator is None:
            return SinkBatch()
        alerts = self._correlated(self.correlator.flush(), self.clock())
        return self._incidents(alerts) if alerts.height else SinkBatch()

    def _incidents(self, alerts: pl.DataFrame) -> SinkBatch:
        if self.tracker is None:
            return SinkBatch(alerts=alerts)
        linked, incidents = self.tracker.track(alerts)
        return SinkBatch(alerts=linked, incidents=incidents)

    def _correlated(self, alerts: pl.DataFrame, now: datetime) -> pl.DataFrame:
        if self.correlator is None or alerts.height == 0:
            return pl.DataFrame()
        fields = group_fields(self.correlator.correlations.rules)
        frame = build_correlation_alerts(alerts, fields, ingested=now)
        frame = tag_attack(frame, self.lookups.attack, tags="tags")
        return geoip(frame, self.lookups.geoip, asn_reader=self.lookups.asn)

    def _indicator_hits(self, events: pl.DataFrame) -> pl.DataFrame:
        indicators = self.lookups.indicators
        if indicators is None or indicators.indicators.height == 0:
            return pl.DataFrame(schema={"row": pl.UInt32})
        return match_indicators(events, indicators.indicators)

    @staticmethod
    def _alerts(
        subset: pl.DataFrame,
        matches: pl.DataFrame,
        ruleset: CompiledRuleSet,
        position: pl.DataFrame,
        now: datetime,
    ) -> pl.DataFrame:
        if matches.height == 0:
            return pl.DataFrame()
        local = matches.join(position, on="row", how="left", maintain_order="left")
        alerts = build_alerts(
            subset, local.with_columns(row=pl.col("_at")), ruleset.rules, ingested=now
        )
        return alerts.with_columns(local["row"].alias("_row"))

    def _indicator_alerts(
        self, subset: pl.DataFrame, hits: pl.DataFrame, position: pl.DataFrame, now: datetime
    ) -> pl.DataFrame:
        if hits.height == 0:
            return pl.DataFrame()
        rows = hits.select("row").unique().sort("row").join(position, on="row", how="left")
        local = rows.select(
            pl.col("_at").alias("row"), pl.lit(0, dtype=pl.UInt32).alias("rule_index")
        )
        alerts = build_alerts(subset, local, self._indicator_meta, ingested=now)
        return alerts.with_columns(rows["row"].alias("_row"))

    def _attach(self, alerts: pl.DataFrame, hits: pl.DataFrame) -> pl.DataFrame:
        if hits.height:
            alerts = attach_indicators(alerts, hits, row="_row")
        alerts = tag_attack(alerts, self.lookups.attack, tags="tags")
        alerts = geoip(alerts, self.lookups.geoip, asn_reader=self.lookups.asn)
        return alerts.drop("_row")
