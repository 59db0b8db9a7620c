"""The middle of a batch: rules over the parsed events, then the alerts they make.

:func:`detect_batch` is what :class:`neakta.pipeline.Pipeline` runs between the parse and
the sinks, on the event loop or in its detection thread (see :mod:`neakta.pipeline`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from detect import CompiledRuleSet, ir
from detect.folding import fold
from detect.patterns import regex_literals
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
        facts=tuple(fact for b in batches for fact in b.facts),
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
    """Whether a rule reads ``event.id``: by name, or a keyword that could occur in one.

    A computed id is 32 lower-case hexadecimal digits: a keyword with any other character
    (``sekurlsa::``) cannot occur in it, so its rule is the same with the id left null.
    """
    if "event.id" in ruleset.fields_read:
        return True
    return any(_could_occur_in_an_id(test) for test in ruleset.keyword_tests)


_HEX_DIGITS: Final = frozenset("0123456789abcdef")


def _could_occur_in_an_id(test: ir.Node) -> bool:
    """Whether a keyword test could hold on a computed id (True where it cannot tell)."""
    match test:
        case ir.StrMatch(value=value):
            return _hexadecimal(fold(value))
        case ir.NumEq(number=number):
            return _hexadecimal(str(number))
        case ir.Glob(parts=parts):
            # Every literal part must occur in the value.
            texts = [fold(p) for p in parts if p not in (ir.WILDCARD_ANY, ir.WILDCARD_ONE)]
            return all(_hexadecimal(text) for text in texts)
        case ir.Regex(pattern=pattern):
            # One of its required literals must occur; none known: it could match.
            literals = regex_literals(pattern)
            return literals is None or any(_hexadecimal(text) for text in literals)
        case _:
            return True


def _hexadecimal(text: str) -> bool:
    return len(text) <= 32 and set(text) <= _HEX_DIGITS
