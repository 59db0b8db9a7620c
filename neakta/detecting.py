"""The middle of a batch: rules over the parsed events, then the alerts they make.

:func:`detect_batch` is what :class:`neakta.pipeline.Pipeline` runs between the parse and
the sinks, on the event loop or in its detection thread (see :mod:`neakta.pipeline`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field

import polars as pl

from detect import CompiledRuleSet
from ingest.archive import EventArchive
from ingest.identity import fill_event_ids
from ingest.sources import SourceBatch
from ingest.sources.parsing import ParsedBatch
from neakta.stage import Stage
from respond.sinks import SinkBatch
from respond.source_watch import SourceWatch

__all__ = ["Detected", "detect_batch", "merge_outputs"]


@dataclass(frozen=True, slots=True)
class Detected:
    """What a batch gives the sinks, its rule matches, and its events per source."""

    output: SinkBatch
    matched: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def merge_outputs(batches: list[SinkBatch]) -> SinkBatch:
    """Alerts and incidents of several stages as one batch for the sinks."""
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return SinkBatch()
    alerts = [b.alerts for b in batches if b.alerts.height]
    incidents = [b.incidents for b in batches if b.incidents.height]
    return SinkBatch(
        alerts=pl.concat(alerts, how="diagonal_relaxed") if alerts else SinkBatch().alerts,
        incidents=pl.concat(incidents, how="diagonal_relaxed")
        if incidents
        else SinkBatch().incidents,
    )


def detect_batch(
    batch: SourceBatch,
    parsed: ParsedBatch,
    *,
    rulesets: MutableMapping[str, CompiledRuleSet],
    make_alerts: Stage,
    archive: EventArchive | None = None,
    sources: SourceWatch | None = None,
) -> Detected:
    """Evaluate each family's rules on ``parsed`` and build the alerts.

    A rule set not calibrated yet is calibrated on its first events and replaced in
    ``rulesets``. With ``archive`` the events are kept; with ``sources`` they are counted
    per source (and silent sources alerted on).

    ``parsed`` may leave ``event.id`` to be computed (``parse_records(..., ids=False)``):
    it is, for every event where the events are archived or a rule reads it (or every
    text field), else for the matched events only, before ``make_alerts`` sees them.
    """
    # Partitions that still lag are not idle, whichever partitions this batch holds.
    make_alerts.touch(batch.busy)
    outputs: list[SinkBatch] = []
    matched = 0
    for family, parsed_events in parsed.events.items():
        events = parsed_events
        if archive is not None:
            events = fill_event_ids(events)
            archive.write(family, events)
        ruleset = rulesets.get(family)
        if ruleset is None:
            continue
        if _reads_event_ids(ruleset):
            events = fill_event_ids(events)
        if not ruleset.calibrated:
            ruleset = rulesets[family] = ruleset.calibrate(events)
        matches = ruleset.evaluate(events)
        matched += matches.height
        # Alerts and correlation windows name the matched events by their ids.
        events = fill_event_ids(events, matches.get_column("row"))
        # Called with no matches too: stateful stages (correlation windows, incidents)
        # may have something to say about any batch.
        outputs.append(make_alerts(events, matches, ruleset))
    outputs.append(make_alerts.advance(batch))
    counts: Counter[str] = Counter()
    if sources is not None:
        silence, counts = sources.observe(parsed.events)
        outputs.append(silence)
    return Detected(merge_outputs(outputs), matched, counts)


def _reads_event_ids(ruleset: CompiledRuleSet) -> bool:
    """Whether a rule reads ``event.id``: by name, or as one of every text field."""
    columns = ruleset.columns_read
    return columns is None or "event.id" in columns
