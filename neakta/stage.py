"""What a batch's rule matches become: the :class:`Stage` protocol and its simplest form.

:class:`neakta.pipeline.Pipeline` calls its stage once per family batch, then at the end
of each batch and of a finite source; :class:`neakta.alerting.AlertStage` is the full one
(enrichment, correlation, incidents).
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from detect import CompiledRuleSet
from ingest.sources import SourceBatch
from respond.alerts import simple_alerts
from respond.sinks import SinkBatch

__all__ = ["SimpleAlerts", "Stage"]


class Stage(Protocol):
    """What a batch's matches become: ``make_alerts(events, matches, ruleset)``."""

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        """The alerts and incidents of one family batch's rule matches."""
        ...

    def finish(self) -> SinkBatch:
        """At the end of a finite source: what the stage still holds back."""
        ...

    def advance(self, batch: SourceBatch) -> SinkBatch:
        """After a batch's families: what its inputs' ends or idleness make final."""
        ...

    def expect(self, inputs: list[str]) -> None:
        """The inputs a finite source will read (its files), before the first batch."""
        ...

    def touch(self, busy: tuple[str, ...]) -> None:
        """Before a batch: inputs that still hold records not read (not idle)."""
        ...


class SimpleAlerts:
    """:func:`respond.alerts.simple_alerts` as a :class:`Stage` that holds nothing back."""

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        """One alert per match."""
        return simple_alerts(events, matches, ruleset)

    def finish(self) -> SinkBatch:
        """Nothing is held back."""
        return SinkBatch()

    def advance(self, batch: SourceBatch) -> SinkBatch:
        """Nothing waits for event time."""
        return SinkBatch()

    def expect(self, inputs: list[str]) -> None:
        """Nothing waits for event time."""

    def touch(self, busy: tuple[str, ...]) -> None:
        """Nothing waits for event time."""
