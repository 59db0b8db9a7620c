"""What a batch's matches become: enriched ECS alerts and the incidents they open or change.

:class:`AlertStage` is the pipeline's ``make_alerts``; it only wires. Per family batch,
correlation rules (when given) see the events and base-rule matches in their partition's
slot (:class:`detect.correlation.CorrelationSlots`) and add their own alerts, and the
matches of base rules that do not generate alerts of their own are dropped; then
:func:`respond.assembly.assemble_alerts` builds the enriched alerts of rule matches and
indicator hits, and the incident tracker groups them into incidents.

With correlation rules, incidents are grouped in event time: each slot's alerts are held
by the tracker until the slot's combined watermark (the event time up to which its
correlation windows are final) passes them, then grouped in ``(@timestamp, alert id)``
order, so the incidents and their ids do not depend on how the stream arrived
(:meth:`respond.incidents.IncidentTracker.release`). At the end of a replay everything held
is grouped; a Kafka run keeps what it holds in the slot checkpoints, as it keeps its open
correlation windows. With a ``route`` (a Kafka run), alerts are not grouped here: their
facts go to the owner of their incident key (:mod:`respond.routing`), which groups the
alerts of every partition.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import CorrelationSlots
from ingest.identity import fill_event_ids
from ingest.sources import SourceBatch
from respond.assembly import (
    Lookups,
    assemble_alerts,
    correlation_alerts,
    indicator_hits,
    indicator_rule,
    with_incidents,
)
from respond.incident import alert_facts
from respond.incidents import IncidentTracker
from respond.routing import event_time
from respond.sinks import SinkBatch

__all__ = ["AlertStage", "report_out_of_order"]

_PARTITION = "neakta.partition"
_log = logging.getLogger("neakta.alerting")


@dataclass
class AlertStage:
    """Matches -> enriched alerts -> incidents, as one ``make_alerts`` stage.

    Parameters
    ----------
    lookups
        Enrichment tables.
    tracker
        Groups alerts into incidents; None: alerts only.
    slots
        Correlation rules and their state per partition slot; None: single-event rules
        only.
    clock
        Gives the processing time (``event.ingested``).
    route
        Route incidents by key (:mod:`respond.routing`): the facts of alerts raised in
        partition slots go with the batch (:attr:`respond.sinks.SinkBatch.facts`) and
        are grouped into incidents by the owner of their incident key, not here; False:
        grouped here.
    """

    lookups: Lookups
    tracker: IncidentTracker | None = None
    slots: CorrelationSlots | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    route: bool = False
    _indicator_meta: pl.DataFrame = field(default_factory=indicator_rule, init=False)
    _counts: tuple[int, int] = field(default=(0, 0), init=False)

    @property
    def skipped(self) -> Counter[str]:
        """Matched events the correlation rules could not count, by reason."""
        return self.slots.skipped if self.slots is not None else Counter()

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        """The alerts and incidents of one family batch's ``matches``."""
        now = self.clock()
        alerts = []
        hits = indicator_hits(events, self.lookups.indicators)
        if hits.height:
            # An indicator's alert names its event by id, as a rule's does.
            events = fill_event_ids(events, hits.get_column("row"))
        if self.slots is not None:
            correlations = self.slots.correlator.correlations
            correlated = self.slots.correlate(events, matches)
            alerts.append(correlation_alerts(correlated, correlations.rules, self.lookups, now))
            matches = correlations.visible(matches)
        parts = assemble_alerts(
            events,
            matches,
            ruleset.rules,
            hits,
            lookups=self.lookups,
            now=now,
            indicator_meta=self._indicator_meta,
        )
        found = [part for part in (*parts, *alerts) if part.height]
        if not found:
            return self._release(SinkBatch())
        return self._release(self._incidents(pl.concat(found, how="diagonal_relaxed")))

    def expect(self, inputs: list[str]) -> None:
        """The files a replay will read: correlation windows wait for each of them."""
        if self.slots is not None:
            self.slots.expect(inputs)

    def touch(self, busy: tuple[str, ...]) -> None:
        """Inputs with records still to read: they hold the watermark (not idle)."""
        if self.slots is not None:
            self.slots.touch(busy)

    def advance(self, batch: SourceBatch) -> SinkBatch:
        """The correlation alerts the batch's ended inputs (files) or idle ones make final."""
        if self.slots is None:
            return SinkBatch()
        ended = self.slots.end(batch.ended)
        ticked = self.slots.tick(batch.busy)
        found = [frame for frame in (ended, ticked) if frame.height]
        if not found:
            return self._release(SinkBatch())
        rules = self.slots.correlator.correlations.rules
        alerts = correlation_alerts(pl.concat(found), rules, self.lookups, self.clock())
        return self._release(self._incidents(alerts) if alerts.height else SinkBatch())

    def finish(self) -> SinkBatch:
        """At the end of a finite stream: the correlation windows still waiting for events.

        And the alerts the incident tracker holds, grouped in event-time order. Nothing
        with a checkpoint store: a stopped Kafka run leaves its open windows and held
        alerts in the store, and the next run goes on with them.
        """
        if self.slots is None:
            return SinkBatch()
        flushed = self.slots.flush()
        rules = self.slots.correlator.correlations.rules
        alerts = correlation_alerts(flushed, rules, self.lookups, self.clock())
        output = self._incidents(alerts) if alerts.height else SinkBatch()
        if self.tracker is None or self.slots.checkpoints is not None:
            return self._release(output)
        return _joined(output, self.tracker.flush())

    def _incidents(self, alerts: pl.DataFrame) -> SinkBatch:
        """``alerts`` linked to incidents; held, in the slots whose event time is watched.

        Correlation alerts name no partition: they get their slot's (``neakta.partition``).
        """
        if self.tracker is None or self.slots is None:
            return with_incidents(alerts, self.tracker)
        noted, self.slots.alert_slots = self.slots.alert_slots, {}
        if not self.route:
            self.tracker.watch(self.slots.marks())
            if not noted:
                return with_incidents(alerts, self.tracker)
        slot = pl.col("_id").replace_strict(noted, default=None, return_dtype=pl.Int32)
        if _PARTITION in alerts.columns:
            slot = pl.coalesce(pl.col(_PARTITION).cast(pl.Int32), slot)
        if self.route:
            tracker = self.tracker
            slotted = alerts.with_columns(slot.alias(_PARTITION)) if noted else alerts
            facts = alert_facts(
                slotted, group_by=tracker.group_by, entity_fields=tracker.entity_fields
            )
            latest = {slot: event_time(newest) for slot, (_, newest) in self.slots.marks().items()}
            routed = tuple(_ahead(fact, latest.get(fact["slot"])) for fact in facts)
            return SinkBatch(alerts=alerts, facts=routed)
        batch = with_incidents(alerts.with_columns(slot.alias(_PARTITION)), self.tracker)
        linked = batch.alerts.drop(_PARTITION)
        if _PARTITION in alerts.columns:
            linked = linked.with_columns(alerts.get_column(_PARTITION))
        return SinkBatch(alerts=linked, incidents=batch.incidents)

    def _release(self, batch: SinkBatch) -> SinkBatch:
        """``batch``, and the incidents of the held alerts the event time has passed."""
        if self.tracker is None or self.slots is None or self.route:
            return batch
        given = self.slots.marks()
        marks = {slot: event_time(mark) for slot, (mark, _) in given.items()}
        latest = {slot: event_time(newest) for slot, (_, newest) in given.items()}
        released = self.tracker.release(marks, latest)
        self._counts = report_out_of_order(self.tracker, self._counts)
        return _joined(batch, released)


def report_out_of_order(tracker: IncidentTracker, before: tuple[int, int]) -> tuple[int, int]:
    """Log the tracker's late and ahead counts when they changed since ``before``; them."""
    counts = (tracker.late, tracker.ahead)
    if counts != before:
        _log.warning(
            "incidents: alerts grouped at once, out of event-time order: %d behind the "
            "event time already grouped, %d stamped beyond every input's (clock skew)",
            *counts,
        )
    return counts


def _ahead(fact: dict[str, Any], latest: datetime | None) -> dict[str, Any]:
    """The fact, marked ``ahead`` when stamped beyond every event time its slot accepted."""
    fact["ahead"] = latest is not None and fact["time"] > latest
    return fact


def _joined(batch: SinkBatch, incidents: pl.DataFrame) -> SinkBatch:
    """``batch`` with more incident rows after its own (a later row is a newer state)."""
    if incidents.height == 0:
        return batch
    if batch.incidents.height:
        incidents = pl.concat([batch.incidents, incidents], how="diagonal_relaxed")
    return replace(batch, incidents=incidents)
