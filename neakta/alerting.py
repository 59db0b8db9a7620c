"""What a batch's matches become: enriched ECS alerts and the incidents they open or change.

:class:`AlertStage` is the pipeline's ``make_alerts``; it only wires. Per family batch,
correlation rules (when given) see the events and base-rule matches in their partition's
slot (:class:`detect.correlation.CorrelationSlots`) and add their own alerts, and the
matches of base rules that do not generate alerts of their own are dropped; then
:func:`respond.assembly.assemble_alerts` builds the enriched alerts of rule matches and
indicator hits, and the incident tracker groups them into incidents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import CorrelationSlots
from ingest.sources import SourceBatch
from respond.assembly import (
    Lookups,
    assemble_alerts,
    correlation_alerts,
    indicator_hits,
    indicator_rule,
    with_incidents,
)
from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch

__all__ = ["AlertStage"]


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
    """

    lookups: Lookups
    tracker: IncidentTracker | None = None
    slots: CorrelationSlots | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _indicator_meta: pl.DataFrame = field(default_factory=indicator_rule, init=False)

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
        if self.slots is not None:
            correlations = self.slots.correlator.correlations
            correlated = self.slots.correlate(events, matches)
            alerts.append(correlation_alerts(correlated, correlations.rules, self.lookups, now))
            matches = correlations.visible(matches)
        hits = indicator_hits(events, self.lookups.indicators)
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
            return SinkBatch()
        return with_incidents(pl.concat(found, how="diagonal_relaxed"), self.tracker)

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
            return SinkBatch()
        rules = self.slots.correlator.correlations.rules
        alerts = correlation_alerts(pl.concat(found), rules, self.lookups, self.clock())
        return with_incidents(alerts, self.tracker) if alerts.height else SinkBatch()

    def finish(self) -> SinkBatch:
        """At the end of a finite stream: the correlation windows still waiting for events.

        Nothing with a checkpoint store: a stopped Kafka run leaves its open windows in the
        store, and the next run goes on with them.
        """
        if self.slots is None:
            return SinkBatch()
        flushed = self.slots.flush()
        rules = self.slots.correlator.correlations.rules
        alerts = correlation_alerts(flushed, rules, self.lookups, self.clock())
        return with_incidents(alerts, self.tracker) if alerts.height else SinkBatch()
