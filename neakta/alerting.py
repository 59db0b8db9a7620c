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

Correlation state is kept per *slot*: one :class:`~detect.correlation.Correlator` per Kafka
partition number (``neakta.partition``; co-partitioned family topics share a slot), and
slot -1 for events read from files. With a checkpoint store, :meth:`AlertStage.checkpoint`
saves each slot's state with its offsets once the sinks acknowledged a batch (before the
offsets are committed), :meth:`AlertStage.assign` restores it when partitions are assigned
and says where to seek, and :meth:`AlertStage.revoke` drops the slots of revoked ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import CheckpointStore, CorrelationStateError, Correlator
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

__all__ = ["FILE_SLOT", "INDICATOR_RULE_ID", "AlertStage", "Lookups", "TopicPartition"]

FILE_SLOT: Final = -1
"""Correlation slot of events that carry no Kafka partition (read from files)."""

TopicPartition = tuple[str, int]
"""``(topic, partition)``; aiokafka's ``TopicPartition`` is one."""

_PARTITION: Final = "neakta.partition"
_log = logging.getLogger("neakta.alerting")

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
        Correlation rules and the window state of slot -1 (events without a partition);
        the correlators of partition slots are made like it. None: single-event rules only.
    clock
        Gives the processing time (``event.ingested``).
    checkpoints, group_id
        Where :meth:`checkpoint` saves and :meth:`assign` restores slot states, under this
        consumer group; None: state lives in memory only.
    """

    lookups: Lookups
    tracker: IncidentTracker | None = None
    correlator: Correlator | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    checkpoints: CheckpointStore | None = None
    group_id: str = ""
    skipped: Counter[str] = field(default_factory=Counter, init=False)
    slots: dict[int, Correlator] = field(default_factory=dict, init=False)
    _offsets: dict[int, dict[TopicPartition, int]] = field(default_factory=dict, init=False)
    _indicator_meta: pl.DataFrame = field(default_factory=_indicator_rule, init=False)

    def __post_init__(self) -> None:
        if self.correlator is not None:
            self.slots[FILE_SLOT] = self.correlator

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        now = self.clock()
        correlated = None
        if self.correlator is not None:
            correlated = self._correlated(self._correlate(events, matches), now)
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
        """At the end of a finite stream: the correlation windows still waiting for events.

        Nothing with a checkpoint store: a stopped Kafka run leaves its open windows in the
        store, and the next run goes on with them.
        """
        if self.correlator is None or self.checkpoints is not None:
            return SinkBatch()
        flushed = [self.slots[slot].flush() for slot in sorted(self.slots)]
        alerts = self._correlated(pl.concat(flushed), self.clock())
        return self._incidents(alerts) if alerts.height else SinkBatch()

    # Correlation slots -----------------------------------------------------------------

    def _slot(self, slot: int) -> Correlator:
        correlator = self.slots.get(slot)
        if correlator is None:
            correlator = self.slots[slot] = self._fresh()
        return correlator

    def _fresh(self) -> Correlator:
        template = self.correlator
        assert template is not None
        return Correlator(
            template.correlations,
            lateness_s=template.lateness_us / 1_000_000,
            max_event_ids=template.max_event_ids,
        )

    def _correlate(self, events: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
        """Each slot's events and matches through that slot's correlator."""
        if _PARTITION in events.columns:
            slots = events.get_column(_PARTITION).fill_null(FILE_SLOT)
        else:
            slots = pl.repeat(FILE_SLOT, events.height, dtype=pl.Int32, eager=True)
        present = slots.unique().sort().to_list() or [FILE_SLOT]
        found = []
        for slot in present:
            if len(present) == 1:
                part, local = events, matches
            else:
                rows = (slots == slot).arg_true().cast(pl.UInt32)
                part = events[rows]
                where = pl.DataFrame(
                    {"row": rows, "_local": pl.int_range(rows.len(), dtype=pl.UInt32, eager=True)}
                )
                local = (
                    matches.join(where, on="row", how="inner", maintain_order="left")
                    .with_columns(row=pl.col("_local"))
                    .drop("_local")
                )
            result = self._slot(slot).process(part, local)
            self.skipped.update(result.skipped.get_column("reason").to_list())
            found.append(result.alerts)
        return pl.concat(found)

    def checkpoint(self, position: Mapping[Hashable, int]) -> None:
        """Save the state of every slot the batch at ``position`` read, with its offsets.

        Call it once every sink acknowledged the batch and before its offsets are
        committed. Keys of ``position`` that are not ``(topic, partition)`` (files) are
        ignored, and so is the call without a checkpoint store.
        """
        if self.checkpoints is None or self.correlator is None:
            return
        read: dict[int, dict[TopicPartition, int]] = {}
        for key, offset in position.items():
            if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
                read.setdefault(key[1], {})[(str(key[0]), key[1])] = offset
        for slot, offsets in sorted(read.items()):
            # The state covers everything the slot read before, of every topic.
            kept = self._offsets.setdefault(slot, {})
            kept.update(offsets)
            self.checkpoints.save(self.group_id, str(slot), kept, self._slot(slot).snapshot())

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned (with Kafka's committed offsets): restore their slots.

        Each slot restarts from the newest checkpoint at or before the committed offsets
        (empty state when there is none); returns the offsets to seek the consumer to.
        """
        if self.correlator is None:
            return {}
        by_slot: dict[int, dict[TopicPartition, int | None]] = {}
        for (topic, partition), offset in committed.items():
            by_slot.setdefault(partition, {})[(topic, partition)] = offset
        seeks: dict[TopicPartition, int] = {}
        for slot, offsets in sorted(by_slot.items()):
            correlator = self.slots[slot] = self._fresh()
            self._offsets[slot] = {}
            if self.checkpoints is None:
                continue
            point = self.checkpoints.restore_point(self.group_id, str(slot), offsets)
            if point is None:
                continue
            try:
                correlator.restore(point.state)
            except CorrelationStateError as error:
                _log.warning("slot %d starts empty, its checkpoint is unreadable: %s", slot, error)
                continue
            self._offsets[slot] = dict(point.offsets)
            seeks.update(point.offsets)
        return seeks

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: their slots' state is in the store, drop it here."""
        for _topic, partition in partitions:
            self.slots.pop(partition, None)
            self._offsets.pop(partition, None)

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
