"""The running pipeline: source -> parse -> stamp -> detect -> alerts -> sinks -> commit.

:class:`Pipeline` holds what is built once (one compiled rule set per log family, the
sinks, the dead-letter destination) and runs one short chain of calls per batch:

1. :func:`ingest.sources.parsing.parse_records` parses each family's records and stamps
   ``event.id`` and ``organization.id``;
2. each family's rule set evaluates its events;
3. ``make_alerts(events, matches, ruleset)`` turns matches into a
   :class:`respond.sinks.SinkBatch` (later stages slot in here: enrichment, correlation,
   incidents);
4. the dead letters, then every sink, are written;
5. ``make_alerts.checkpoint(batch.position)`` (if it has one) saves the state of stateful
   stages with the batch's offsets (correlation windows, see :mod:`detect.correlation`);
6. only then the source commits the batch.

When a finite source (files) ends, ``make_alerts.finish()`` (if it has one) gives what
stateful stages still hold, such as correlation windows waiting for later events.

A sink or dead-letter destination that raises a *retriable* error (``retriable = True``,
as :class:`respond.errors.SinkUnavailableError` and aiokafka's errors have) gets the same
batch again after a growing pause, and no new batch is read meanwhile: backpressure. A sink
that already acknowledged the batch is not asked again. Setting ``stop`` ends the run after
the batch in hand, or during such a pause without committing it (it is read again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import polars as pl

from detect import CompiledRuleSet, load_rules
from detect.cache import compile_rules
from detect.correlation import CorrelationSet
from ingest.deadletter import DeadLetterSink
from ingest.sources import FAMILIES, FileSource, Source, SourceBatch
from ingest.sources.parsing import parse_records
from neakta.status import BatchResult, RunStats, StatusLine, reason_key
from respond.alerts import SEVERITY, alert_id
from respond.sinks import AlertSink, SinkBatch

__all__ = [
    "MakeAlerts",
    "Pipeline",
    "PipelineStoppedError",
    "alert_ids",
    "compile_correlations",
    "compile_rulesets",
    "simple_alerts",
]

MakeAlerts = Callable[[pl.DataFrame, pl.DataFrame, CompiledRuleSet], SinkBatch]
"""``(events, matches, ruleset) -> SinkBatch``: what a batch's matches become."""


_log = logging.getLogger("neakta.pipeline")
_T = TypeVar("_T")


class PipelineStoppedError(Exception):
    """The run was stopped while a batch waited for a destination; it was not committed.

    Attributes
    ----------
    retriable
        True: the batch was not committed, so a later run reads it again.
    """

    retriable: ClassVar[bool] = True


def alert_ids(rule_ids: pl.Series, event_ids: pl.Series) -> pl.Series:
    """``_id`` of alerts, by :func:`respond.alerts.alert_id` (BLAKE2b-128 of rule and event id).

    Examples
    --------
    >>> alert_ids(pl.Series(["r1"]), pl.Series(["e1"])).to_list() == [alert_id("r1", "e1")]
    True
    """
    pairs = zip(rule_ids.fill_null("").to_list(), event_ids.fill_null("").to_list(), strict=True)
    return pl.Series("_id", [alert_id(rule, event) for rule, event in pairs], dtype=pl.String)


def simple_alerts(
    events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
) -> SinkBatch:
    """One alert per match: the event's columns plus the rule and a deterministic ``_id``.

    Examples
    --------
    >>> rules = CompiledRuleSet.from_yaml('''
    ... title: Whoami
    ... id: 6f8a4c1e-0d7b-4c8a-9a51-3c2f3b6e9d10
    ... logsource: {category: process_creation, product: windows}
    ... detection: {selection: {CommandLine|contains: whoami}, condition: selection}
    ... level: high
    ... ''', pipeline="none")
    >>> events = pl.DataFrame({"event.id": ["e1", "e2"], "CommandLine": ["ls", "whoami /all"]})
    >>> alerts = simple_alerts(events, rules.evaluate(events), rules).alerts
    >>> alerts.select("event.id", "rule.name", "event.severity", "event.kind").rows()
    [('e2', 'Whoami', 73, 'alert')]
    """
    if matches.height == 0:
        return SinkBatch()
    rules = {rule.index: rule for rule in ruleset.rules}
    index = matches.get_column("rule_index").to_list()
    picked = events[matches.get_column("row")]
    rule_ids = matches.get_column("rule_id")
    event_ids = (
        picked.get_column("event.id")
        if "event.id" in picked.columns
        else pl.Series([None] * picked.height, dtype=pl.String)
    )
    alerts = picked.with_columns(
        alert_ids(rule_ids, event_ids),
        pl.lit("alert").alias("event.kind"),
        rule_ids.alias("rule.id"),
        matches.get_column("rule_title").alias("rule.name"),
        pl.Series("rule.description", [rules[i].description for i in index], dtype=pl.String),
        matches.get_column("level")
        .replace_strict(SEVERITY, default=SEVERITY["medium"], return_dtype=pl.Int64)
        .alias("event.severity"),
        matches.get_column("rule_title").alias("message"),
    )
    return SinkBatch(alerts=alerts.select("_id", pl.exclude("_id")))


def compile_correlations(paths: Sequence[str | Path], base: CompiledRuleSet) -> CorrelationSet:
    """The correlation rules among the rules at ``paths``, over the base rule set."""
    loaded = load_rules(paths)
    return CorrelationSet.compile([*loaded.rules, *loaded.correlations], base, pipeline="ecs")


def compile_rulesets(
    paths: Sequence[str | Path],
    *,
    placeholders: Mapping[str, list[str]] | None = None,
    families: Sequence[str] = FAMILIES,
    cache_dir: Path | None = None,
) -> dict[str, CompiledRuleSet]:
    """Load and compile the rules once with the ``ecs`` pipeline; the same set per family.

    Each family calibrates its own copy of the fast patterns on its first batch (the copies
    share the compiled expressions); the ``ecs`` pipeline's logsource routing keeps a
    family's events away from other rules. ``cache_dir`` caches the compiled rules
    (:mod:`detect.cache`).
    """
    ruleset = compile_rules(paths, pipeline="ecs", placeholders=placeholders, cache_dir=cache_dir)
    # Compiled once: each family gets its own calibration of the same rules (see process).
    return dict.fromkeys(families, ruleset)


def _merge(batches: list[SinkBatch]) -> SinkBatch:
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


class Pipeline:
    """Rule sets, sinks and dead-letter destination, and the per-batch chain between them.

    Parameters
    ----------
    rulesets
        Log family -> compiled rules (see :func:`compile_rulesets`).
    sinks
        Where alerts go; every one must acknowledge a batch before it is committed.
    dead_letters
        Where records that could not become events go.
    make_alerts
        Matches -> :class:`respond.sinks.SinkBatch` (default :func:`simple_alerts`).
    forwarders
        Forwarder or host name -> ministry id.
    clock
        Gives "now"; its year dates syslog stamps that carry none.
    backoff, max_backoff
        First and largest pause, in seconds, before offering a batch again.
    stop
        Set it to end :meth:`run` after the batch in hand.
    """

    def __init__(
        self,
        rulesets: Mapping[str, CompiledRuleSet],
        *,
        sinks: Sequence[AlertSink] = (),
        dead_letters: DeadLetterSink,
        make_alerts: MakeAlerts = simple_alerts,
        forwarders: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.rulesets = dict(rulesets)
        self.sinks = list(sinks)
        self.dead_letters = dead_letters
        self.make_alerts = make_alerts
        self.forwarders = dict(forwarders or {})
        self.clock = clock
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stop = stop or asyncio.Event()
        self.stats = RunStats()
        self.last_batch = time.monotonic()

    async def process(self, batch: SourceBatch) -> BatchResult:
        """Parse, detect and deliver one batch; do not commit it."""
        parsed = parse_records(batch.records, year=self.clock().year, forwarders=self.forwarders)
        dead = pl.concat([batch.dead, parsed.dead]) if parsed.dead.height else batch.dead
        outputs: list[SinkBatch] = []
        matched = 0
        for family, events in parsed.events.items():
            ruleset = self.rulesets.get(family)
            if ruleset is None:
                continue
            if not ruleset.calibrated:
                ruleset = self.rulesets[family] = ruleset.calibrate(events)
            matches = ruleset.evaluate(events)
            matched += matches.height
            # Called with no matches too: stateful stages (correlation windows, incidents)
            # may have something to say about any batch.
            outputs.append(self.make_alerts(events, matches, ruleset))
        if dead.height:
            await self._deliver("dead letters", partial(self.dead_letters.write, dead))
        written = duplicates = 0
        output = _merge(outputs)
        if output.alerts.height or output.incidents.height:
            for sink in self.sinks:
                delivery = await self._deliver(type(sink).__name__, partial(sink.write, output))
                written = max(written, delivery.written)
                duplicates = max(duplicates, delivery.duplicates)
        reasons = Counter(reason_key(r) for r in dead.get_column("reason").to_list())
        return BatchResult(
            records=batch.size,
            events=parsed.count,
            matches=matched,
            alerts=output.alerts.height,
            written=written,
            duplicates=duplicates,
            dead=dict(reasons),
            families={family: frame.height for family, frame in parsed.events.items()},
        )

    async def _deliver(self, what: str, write: Callable[[], Awaitable[_T]]) -> _T:
        pause = self.backoff
        while True:
            try:
                return await write()
            except Exception as error:
                if not getattr(error, "retriable", False):
                    raise
                _log.warning("%s unavailable, retrying in %.1f s: %s", what, pause, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), pause)
            if self.stop.is_set():
                raise PipelineStoppedError(f"stopped while {what} was unavailable")
            pause = min(pause * 2, self.max_backoff)

    async def run(self, source: Source, *, status: StatusLine | None = None) -> RunStats:
        """Process and commit batch after batch until the source ends or ``stop`` is set."""
        lag: Callable[[], Mapping[str, int]] = getattr(source, "lag", dict)
        batches = source.batches()
        try:
            async with contextlib.aclosing(batches):  # type: ignore[type-var]
                async for batch in batches:
                    result = await self.process(batch)
                    await self._checkpoint(batch)
                    await source.commit(batch)
                    self.stats.add(result)
                    self.last_batch = time.monotonic()
                    if status is not None:
                        status.update(self.stats, lag())
                    if self.stop.is_set():
                        break
                else:
                    await self._finish()
        except PipelineStoppedError as stopped:
            _log.info("%s", stopped)
        if status is not None:
            status.update(self.stats, lag())
            status.finish()
        return self.stats

    async def _checkpoint(self, batch: SourceBatch) -> None:
        """Save what stateful stages hold with the batch's offsets, before they are committed."""
        checkpoint: Callable[[Mapping[Hashable, int]], None] | None = getattr(
            self.make_alerts, "checkpoint", None
        )
        if checkpoint is None:
            return

        async def save() -> None:
            checkpoint(batch.position)

        await self._deliver("checkpoint store", save)

    async def _finish(self) -> None:
        """The source ended: deliver what stateful stages held back (open windows)."""
        finish: Callable[[], SinkBatch] | None = getattr(self.make_alerts, "finish", None)
        if finish is None:
            return
        output = finish()
        if not (output.alerts.height or output.incidents.height):
            return
        written = duplicates = 0
        for sink in self.sinks:
            delivery = await self._deliver(type(sink).__name__, partial(sink.write, output))
            written = max(written, delivery.written)
            duplicates = max(duplicates, delivery.duplicates)
        self.stats.alerts += output.alerts.height
        self.stats.written += written
        self.stats.duplicates += duplicates

    async def replay(self, paths: Sequence[str | Path], **options: Any) -> RunStats:
        """Run over files (see :class:`ingest.sources.FileSource` for ``options``)."""
        source = FileSource(paths, stop=self.stop, **options)
        try:
            return await self.run(source)
        finally:
            await source.close()

    async def close(self) -> None:
        """Close every sink and the dead-letter destination."""
        for sink in self.sinks:
            await sink.close()
        await self.dead_letters.close()
