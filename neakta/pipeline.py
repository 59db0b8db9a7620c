"""The running pipeline: source -> parse -> stamp -> detect -> alerts -> sinks -> commit.

:class:`Pipeline` holds what is built once (one compiled rule set per log family, the
sinks, the dead-letter destination) and runs one short chain of calls per batch:

1. :func:`ingest.sources.parsing.parse_records` parses each family's records and stamps
   ``organization.id`` (``event.id`` is left to step 2);
2. each family's rule set evaluates its events (:func:`neakta.detecting.detect_batch`),
   and the events that matched (all of them where they are archived) get their
   ``event.id`` (:func:`ingest.identity.fill_event_ids`: the same id, computed for fewer);
3. the :class:`neakta.stage.Stage` ``make_alerts(events, matches, ruleset)`` turns matches into a
   :class:`respond.sinks.SinkBatch` (enrichment, correlation, incidents);
4. the dead letters, then every sink (all at once), are written
   (:mod:`neakta.delivery`);
5. the :class:`neakta.checkpoint.Checkpoint` saves the state of stateful stages with the
   batch's offsets (correlation windows, see :mod:`detect.correlation`);
6. only then the source commits the batch (steps 4-6 in the checkpoint's order).

Overlap: with ``ahead`` = 1 (the default of ``neakta run``), the next batch is fetched
and parsed (step 1, in a worker thread) while this one is detected and delivered (steps
2-6, detection and alert building in a second worker thread: Polars releases the GIL), so
the event loop stays free for the Kafka fetcher; the batch after it is fetched while it is
parsed (:mod:`neakta.readahead`). Batches are still completed one at a time, in order; the
parser state saved with a batch is the one its own parse left.

When a finite source (files) ends, ``make_alerts.finish()`` gives what stateful stages
still hold, such as correlation windows waiting for later events.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from detect import CompiledRuleSet
from ingest.archive import EventArchive
from ingest.deadletter import DeadLetterSink
from ingest.sources import FileSource, Source, SourceBatch
from ingest.sources.parsing import ParsedBatch, ParserState, parse_records
from neakta.checkpoint import Checkpoint
from neakta.delivery import PipelineStoppedError, deliver, write_all
from neakta.detecting import Detected, detect_batch
from neakta.readahead import read_ahead
from neakta.stage import SimpleAlerts, Stage
from neakta.status import BatchResult, RunStats, Status, reason_key, report_conflicts
from respond.sinks import AlertSink, SinkBatch
from respond.source_watch import SourceWatch

__all__ = ["Pipeline", "PipelineStoppedError"]

_log = logging.getLogger("neakta.pipeline")
_T = TypeVar("_T")


class Pipeline:
    """Rule sets, sinks and dead-letter destination, and the per-batch chain between them.

    Parameters
    ----------
    rulesets
        Log family -> compiled rules (see :func:`neakta.rulesets.compile_rulesets`).
    sinks
        Where alerts go; every one must acknowledge a batch before it is committed.
    dead_letters
        Where records that could not become events go.
    make_alerts
        Matches -> :class:`respond.sinks.SinkBatch` (default :class:`neakta.stage.SimpleAlerts`).
    checkpoint
        Saves stateful stages' state between the sinks and the commit (default: none).
    forwarders
        Forwarder or host name -> ministry id.
    sources
        Counts events per source and raises silent-source alerts (default: none).
    clock
        Gives "now"; its year dates syslog stamps that carry none.
    backoff, max_backoff
        First and largest pause, in seconds, before offering a batch again.
    stop
        Set it to end :meth:`run` after the batch in hand.
    archive
        Keeps each batch's parsed events (see :mod:`ingest.archive`); None: not kept.
    before_batch
        Awaited before each batch (a rule reload swaps rule sets there).
    after_batch
        Awaited after each batch is committed (incident routing goes on there).
    ahead
        Batches fetched and parsed ahead of the one in hand by :meth:`run`, parse and
        detection then each in a worker thread; 0: one batch at a time, on the event loop.
    """

    def __init__(
        self,
        rulesets: Mapping[str, CompiledRuleSet],
        *,
        sinks: Sequence[AlertSink] = (),
        dead_letters: DeadLetterSink,
        make_alerts: Stage | None = None,
        checkpoint: Checkpoint | None = None,
        forwarders: Mapping[str, str] | None = None,
        sources: SourceWatch | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        stop: asyncio.Event | None = None,
        archive: EventArchive | None = None,
        before_batch: Callable[[Pipeline], Awaitable[None]] | None = None,
        after_batch: Callable[[Pipeline], Awaitable[None]] | None = None,
        ahead: int = 0,
    ) -> None:
        self.rulesets = dict(rulesets)
        self.sinks = list(sinks)
        self.dead_letters = dead_letters
        self.make_alerts: Stage = make_alerts if make_alerts is not None else SimpleAlerts()
        self.checkpoint = checkpoint if checkpoint is not None else Checkpoint()
        self.forwarders = dict(forwarders or {})
        self.sources = sources
        self.clock = clock
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stop = stop or asyncio.Event()
        self.archive = archive
        self.before_batch = before_batch
        self.after_batch = after_batch
        self.ahead = ahead
        self.stats = RunStats()
        self.last_batch = time.monotonic()
        self._in_hand = False
        self._parser: ThreadPoolExecutor | None = None
        self._detector: ThreadPoolExecutor | None = None

    @property
    def active(self) -> float:
        """When the pipeline last had a batch: now while one with records is in hand.

        Detection runs off the event loop, so an idle watcher may look during a long batch.
        """
        return time.monotonic() if self._in_hand else self.last_batch

    def parse(self, batch: SourceBatch) -> tuple[ParsedBatch, ParserState]:
        """Parse and stamp ``batch``; the parser state as it left it (saved with it)."""
        parsers = self.checkpoint.parsers
        # Ids are computed in detection, for the events that need one (most match nothing).
        parsed = parse_records(
            batch.records,
            year=self.clock().year,
            forwarders=self.forwarders,
            state=parsers,
            ids=False,
        )
        return parsed, ParserState(dict(parsers.iis_fields))

    async def _parse(self, batch: SourceBatch) -> tuple[ParsedBatch, ParserState]:
        if self._parser is None or not batch.records.height:
            return self.parse(batch)
        return await asyncio.get_running_loop().run_in_executor(self._parser, self.parse, batch)

    async def process(self, batch: SourceBatch, parsed: ParsedBatch | None = None) -> BatchResult:
        """Parse (unless ``parsed`` is given), detect and deliver one batch; do not commit it."""
        if parsed is None:
            parsed, _ = self.parse(batch)
        if self._detector is None:
            detected = self._detect(batch, parsed)
        else:
            detected = await asyncio.get_running_loop().run_in_executor(
                self._detector, self._detect, batch, parsed
            )
        output = detected.output
        dead = pl.concat([batch.dead, parsed.dead]) if parsed.dead.height else batch.dead
        if dead.height:
            await self._deliver("dead letters", partial(self.dead_letters.write, dead))
        written = duplicates = 0
        if output.alerts.height or output.incidents.height:
            written, duplicates = await self.write_sinks(output)
        reasons = Counter(reason_key(r) for r in dead.get_column("reason").to_list())
        return BatchResult(
            records=batch.size,
            events=parsed.count,
            matches=detected.matched,
            alerts=output.alerts.height,
            written=written,
            duplicates=duplicates,
            dead=dict(reasons),
            families={family: frame.height for family, frame in parsed.events.items()},
            sources=detected.counts,
            conflicts=report_conflicts(parsed.conflicts, _log),
        )

    async def write_sinks(self, output: SinkBatch) -> tuple[int, int]:
        """Write ``output`` to every sink at once (:func:`neakta.delivery.write_all`)."""
        return await write_all(self.sinks, output, self._deliver)

    def _detect(self, batch: SourceBatch, parsed: ParsedBatch) -> Detected:
        return detect_batch(
            batch,
            parsed,
            rulesets=self.rulesets,
            make_alerts=self.make_alerts,
            archive=self.archive,
            sources=self.sources,
        )

    async def _deliver(self, what: str, write: Callable[[], Awaitable[_T]]) -> _T:
        return await deliver(
            what, write, backoff=self.backoff, max_backoff=self.max_backoff, stop=self.stop
        )

    async def run(self, source: Source, *, status: Status | None = None) -> RunStats:
        """Process and commit batch after batch until the source ends or ``stop`` is set."""
        lag: Callable[[], Mapping[str, int]] = getattr(source, "lag", dict)
        inputs: list[str] | None = getattr(source, "inputs", None)
        if inputs:
            # Event time waits for every file, not only those read so far.
            self.make_alerts.expect(list(inputs))
        if self.ahead > 0:
            self._parser = ThreadPoolExecutor(1, thread_name_prefix="neakta-parse")
            self._detector = ThreadPoolExecutor(1, thread_name_prefix="neakta-detect")
        pairs = read_ahead(source.batches(), self._parse, ahead=self.ahead)
        try:
            async with contextlib.aclosing(pairs):
                async for batch, (parsed, parsers) in pairs:
                    await self._complete(source, batch, parsed, parsers)
                    if status is not None:
                        status.update(self.stats, lag())
                    if self.stop.is_set():
                        break
                else:
                    await self._finish()
        except PipelineStoppedError as stopped:
            _log.info("%s", stopped)
        finally:
            for pool in (self._parser, self._detector):
                if pool is not None:
                    pool.shutdown(wait=False)
            self._parser = self._detector = None
        if status is not None:
            status.update(self.stats, lag())
            status.finish()
        return self.stats

    async def _complete(
        self, source: Source, batch: SourceBatch, parsed: ParsedBatch, parsers: ParserState
    ) -> None:
        """Process, deliver, save and commit one batch (the hooks around it included)."""
        if self.before_batch is not None:
            await self.before_batch(self)
        self._in_hand = bool(batch.size)
        try:
            result = await self.checkpoint.complete(
                batch,
                source,
                flush=partial(self.process, batch, parsed),
                retry=self._deliver,
                parsers=parsers,
            )
        finally:
            self._in_hand = False
        if self.after_batch is not None:
            await self.after_batch(self)
        self.stats.add(result)
        if batch.size or batch.position:
            # An empty tick batch (no record came) is no activity.
            self.last_batch = time.monotonic()

    async def _finish(self) -> None:
        """The source ended: deliver what stateful stages held back (open windows)."""
        output = self.make_alerts.finish()
        if not (output.alerts.height or output.incidents.height):
            return
        written, duplicates = await self.write_sinks(output)
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
