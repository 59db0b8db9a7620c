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
parsed (:mod:`neakta.readahead`). And the next batch is detected (steps 2-3) while this
one is delivered, saved and committed (steps 4-6): what those steps save is taken in the
detection thread as soon as this batch is detected (:meth:`neakta.checkpoint.Checkpoint.prepare`,
the tracker's changes with :meth:`respond.incidents.IncidentTracker.take_changes`), so
the state the next batch changes is not in it. Batches are still completed one at a time,
in order; the parser state saved with a batch is the one its own parse left. A hook run
after each batch (``after_batch``) is given what ``after_detect`` took of the stages'
state as that batch was detected (incident routing: the slots' marks); a hook without an
``after_detect`` has each batch completed before the next is detected.

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
from dataclasses import replace
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
from neakta.checkpoint import Checkpoint, Prepared
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
        Awaited after each batch is committed (incident routing goes on there), with what
        ``after_detect`` took for the batch (None without it).
    after_detect
        Called in the detection thread as soon as a batch is detected: what the batch's
        ``after_batch`` needs of the stages' state as the batch left it. With ``after_batch``
        but no ``after_detect``, each batch is completed before the next is detected.
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
        after_batch: Callable[[Pipeline, Any], Awaitable[None]] | None = None,
        after_detect: Callable[[], Any] | None = None,
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
        self.after_detect = after_detect
        self.ahead = ahead
        self.stats = RunStats()
        self.last_batch = time.monotonic()
        self._in_hand = 0  # batches with records being detected or completed
        self._parser: ThreadPoolExecutor | None = None
        self._detector: ThreadPoolExecutor | None = None
        self._completing: asyncio.Future[None] | None = None

    @property
    def active(self) -> float:
        """When the pipeline last had a batch: now while one with records is in hand.

        Detection runs off the event loop, so an idle watcher may look during a long batch.
        """
        return time.monotonic() if self._in_hand > 0 else self.last_batch

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

    async def process(
        self,
        batch: SourceBatch,
        parsed: ParsedBatch | None = None,
        detected: Detected | None = None,
    ) -> BatchResult:
        """Parse, detect and deliver one batch (unless ``parsed``, ``detected`` are given).

        The batch is not committed.
        """
        if parsed is None:
            parsed, _ = self.parse(batch)
        if detected is None:
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

    def _detect_ahead(
        self, batch: SourceBatch, parsed: ParsedBatch, parsers: ParserState
    ) -> tuple[Detected, Prepared, Any]:
        """Detect ``batch``; take what its completion saves and ``after_detect``'s part."""
        detected = self._detect(batch, parsed)
        output = detected.output
        tracker = self.checkpoint.tracker
        written = output.alerts.height or output.incidents.height
        if tracker is not None and self.checkpoint.incidents is not None and written:
            # Written with this batch; else they wait for the next batch written.
            output = replace(output, tracker=tracker.take_changes())
            detected = replace(detected, output=output)
        taken = None if self.after_detect is None else self.after_detect()
        return detected, self.checkpoint.prepare(batch, parsers), taken

    async def settle(self) -> None:
        """Wait until the batch being completed is committed.

        A hook that changes the stages' state, such as a rule reload, calls it first.
        """
        completing, self._completing = self._completing, None
        if completing is not None:
            await completing

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
        # The next batch is detected while this one is completed (see the module's notes).
        overlap = self._detector is not None and (
            self.after_batch is None or self.after_detect is not None
        )

        def report() -> None:
            if status is not None:
                status.update(self.stats, lag())

        try:
            async with contextlib.aclosing(pairs):
                try:
                    async for batch, (parsed, parsers) in pairs:
                        await self._take(source, batch, (parsed, parsers), overlap, report)
                        if not overlap or self.stop.is_set():
                            await self.settle()
                        if self.stop.is_set():
                            break
                    else:
                        await self.settle()
                        await self._finish()
                finally:
                    # Before the source is closed: the batch being completed commits.
                    await self._abandon()
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

    async def _take(
        self,
        source: Source,
        batch: SourceBatch,
        parse: tuple[ParsedBatch, ParserState],
        overlap: bool,
        report: Callable[[], None],
    ) -> None:
        """Start completing ``batch``; ``report`` once it is committed.

        With ``overlap`` it is detected here first, while the batch before is still being
        completed, which is waited for before this one's completion starts; a stop set
        meanwhile leaves it uncommitted (read again by the partition's next reader).
        """
        parsed, parsers = parse
        detected: Detected | None = None
        prepared: Prepared | None = None
        taken: Any = None
        if self.before_batch is not None:
            await self.before_batch(self)
        if overlap:
            assert self._detector is not None
            busy = int(bool(batch.size))  # an empty tick batch is no activity
            self._in_hand += busy
            try:
                detected, prepared, taken = await asyncio.get_running_loop().run_in_executor(
                    self._detector, self._detect_ahead, batch, parsed, parsers
                )
            finally:
                self._in_hand -= busy
        await self.settle()
        if overlap and self.stop.is_set():
            return
        completion = self._complete(
            source, batch, parse, detected=detected, prepared=prepared, taken=taken
        )
        self._completing = asyncio.ensure_future(self._reported(completion, report))
        self._completing.add_done_callback(self._stop_on_error)

    @staticmethod
    async def _reported(completion: Awaitable[None], report: Callable[[], None]) -> None:
        await completion
        report()

    def _stop_on_error(self, completing: asyncio.Future[None]) -> None:
        """A batch failed while the next one is read: read no more (``settle`` raises it)."""
        if not completing.cancelled() and completing.exception() is not None:
            self.stop.set()

    async def _abandon(self) -> None:
        """The run ends early: let the batch being completed finish (its error is logged)."""
        completing, self._completing = self._completing, None
        if completing is None:
            return
        try:
            await completing
        except PipelineStoppedError as stopped:
            _log.info("%s", stopped)
        except Exception:
            _log.exception("the batch being completed when the run ended failed")

    async def _complete(
        self,
        source: Source,
        batch: SourceBatch,
        parse: tuple[ParsedBatch, ParserState],
        *,
        detected: Detected | None = None,
        prepared: Prepared | None = None,
        taken: Any = None,
    ) -> None:
        """Process (unless ``detected``), deliver, save and commit one batch; then the hook.

        ``taken``: what ``after_detect`` took when the batch was detected ahead; taken
        here, after the commit, when it was not (no batch was detected since).
        """
        parsed, parsers = parse
        busy = int(bool(batch.size))
        self._in_hand += busy
        try:
            result = await self.checkpoint.complete(
                batch,
                source,
                flush=partial(self.process, batch, parsed, detected),
                retry=self._deliver,
                parsers=parsers,
                prepared=prepared,
            )
        finally:
            self._in_hand -= busy
        if self.after_batch is not None:
            if detected is None and self.after_detect is not None:
                taken = self.after_detect()
            await self.after_batch(self, taken)
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
