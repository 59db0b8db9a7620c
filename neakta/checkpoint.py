"""The end of a batch, in order: sinks flushed -> state saved -> offsets committed.

:class:`Checkpoint` is the one place that order lives. It also holds what resumes from
saved state: the correlation slots (restored when Kafka assigns partitions, dropped when it
revokes them), the parsers' per-input state (IIS ``#Fields:``) and the slot's incidents
(open incidents, alerts held until the event time passes them, the release mark), both
saved with each slot so that they move with its partitions, and the incident tracker
(resumed from the embedded store at start; with slot checkpoints, only the incidents of
no partition, the slots' own come from their checkpoints). A checkpoint store that
keeps its checkpoints in the broker (a changelog) is flushed, and its write acknowledged,
before the offsets are committed, and read back before partitions are restored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import orjson

from detect.correlation import CorrelationSlots, TopicPartition
from ingest.errors import IngestError
from ingest.sources import Source, SourceBatch
from ingest.sources.parsing import ParserState
from respond.incidents import FILE_SLOT, IncidentTracker
from respond.silence import SourceClock
from respond.source_watch import SourceWatch
from respond.store import SqliteStore

__all__ = ["Checkpoint", "Prepared", "Retry"]

_T = TypeVar("_T")

Retry = Callable[[str, Callable[[], Awaitable[_T]]], Awaitable[_T]]
"""``retry(what, call)``: await ``call`` until it succeeds (backpressure on outages)."""

_log = logging.getLogger("neakta.checkpoint")


@dataclass(frozen=True)
class Prepared:
    """A batch's saved state, taken when it was detected (:meth:`Checkpoint.prepare`).

    ``slots``: each correlation slot's ``(slot, offsets, state)``; ``sources``: the
    source counters since the last save and the silence clock.
    """

    slots: list[tuple[str, dict[TopicPartition, int], bytes]]
    sources: tuple[list[Any], SourceClock] | None


@dataclass
class Checkpoint:
    """Saved state of the stateful stages, and the order a batch is finished in.

    Parameters
    ----------
    slots
        Correlation state per partition slot, with its checkpoint store; None: nothing to
        save.
    incidents, tracker
        The embedded store and the tracker it saves with every batch; :meth:`resume`
        gives the tracker the incidents a previous run left open.
    parsers
        The parsers' state per input, carried across batches (the pipeline parses with
        it) and saved with the slot of each input.
    sources
        Per-source counters and the silent-source clock, written at each save.
    """

    slots: CorrelationSlots | None = None
    incidents: SqliteStore | None = None
    tracker: IncidentTracker | None = None
    parsers: ParserState = field(default_factory=ParserState)
    sources: SourceWatch | None = None

    async def load(self) -> None:
        """Read checkpoints kept in the broker back (before :meth:`assign`)."""
        store = None if self.slots is None else self.slots.checkpoints
        load: Callable[[], Awaitable[None]] | None = getattr(store, "load", None)
        if load is not None:
            await load()

    def resume(self) -> int:
        """Resume the tracker's incidents from the store; how many were open."""
        if self.incidents is None or self.tracker is None:
            return 0
        resumed = self.incidents.resume(self.tracker)
        if self.slots is not None and self.slots.checkpoints is not None:
            # A partition's incidents resume from its slot checkpoint, when it is assigned.
            for slot in self.tracker.slots() - {FILE_SLOT}:
                self.tracker.forget_slot(slot, saved=False)
        return resumed

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned: restore their slots; the offsets to seek to.

        ``committed`` is the whole new assignment (Kafka's eager rebalance): a slot held
        for a partition it leaves out went to another process, even when no revocation
        named it (a member that rejoins as a new one is told of none), and is dropped.
        """
        assigned = sorted({partition for _topic, partition in committed})
        if self.sources is not None:
            # Sources read only from partitions another process now has are its to watch.
            self.sources.forget_slots(self.sources.held_slots() - set(assigned))
        if self.slots is None:
            return {}
        self._drop_unassigned(self.slots, set(assigned))
        seeks = self.slots.assign(committed)
        for slot in assigned:
            extra = self.slots.restored_extras.get(slot)
            saved: dict[str, Any] = {}
            if extra:
                try:
                    saved = orjson.loads(extra)
                    parsers = ParserState.from_bytes(orjson.dumps(saved["parsers"]))
                except (orjson.JSONDecodeError, KeyError, TypeError, IngestError) as error:
                    _log.warning("slot %d: parser and incident state not restored: %s", slot, error)
                    saved = {}
                else:
                    self.parsers.iis_fields.update(parsers.iis_fields)
            if self.tracker is not None:
                _restore_incidents(self.tracker, slot, saved)
        return seeks

    def _drop_unassigned(self, slots: CorrelationSlots, assigned: set[int]) -> None:
        held = set(slots.slots) | (set() if self.tracker is None else self.tracker.slots())
        gone = sorted(held - assigned - {FILE_SLOT})
        if not gone:
            return
        _log.info("slots %s are no longer assigned here: their state is dropped", gone)
        names = [name.rsplit("/", 1) for name in self.parsers.iis_fields]
        topics = {(topic, int(p)) for topic, p in names if p.isdigit() and int(p) in gone}
        self.revoke(sorted(topics | {("", slot) for slot in gone}))

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: drop their slots (their state is in the store)."""
        revoked = list(partitions)
        if self.sources is not None:
            self.sources.forget_slots({partition for _topic, partition in revoked})
        if self.slots is not None:
            self.slots.revoke(revoked)
        for topic, partition in revoked:
            self.parsers.iis_fields.pop(f"{topic}/{partition}", None)
        if self.tracker is not None:
            # The new owner goes on with the slot's incidents and held alerts.
            for partition in sorted({partition for _topic, partition in revoked}):
                self.tracker.forget_slot(partition)

    def save(self, batch: SourceBatch, parsers: ParserState | None = None) -> None:
        """Save the state of the slots ``batch`` read, with its offsets, and the counters.

        ``parsers``: the parser state as ``batch``'s parse left it, when later batches
        were parsed since (default: :attr:`parsers`).
        """
        self._save_prepared(self.prepare(batch, parsers))

    def prepare(self, batch: SourceBatch, parsers: ParserState | None = None) -> Prepared:
        """What :meth:`save` would save for ``batch``, taken now, as its detection left it.

        The pipeline takes it in the detection thread right after ``batch`` is detected,
        so that the next batch may be detected while this one is delivered; the state a
        later batch changes is not in it. :meth:`complete` saves it.
        """
        slots: list[tuple[str, dict[TopicPartition, int], bytes]] = []
        if self.slots is not None:
            extras = partial(self._parser_state, self.parsers if parsers is None else parsers)
            slots = self.slots.prepare_checkpoint(batch.position, extras=extras)
        sources = None if self.sources is None else self.sources.take()
        return Prepared(slots, sources)

    def _save_prepared(self, prepared: Prepared) -> None:
        if self.slots is not None:
            self.slots.save_prepared(prepared.slots)
        self._save_sources(prepared)

    def _save_sources(self, prepared: Prepared) -> None:
        if self.sources is not None and prepared.sources is not None:
            self.sources.save(prepared.sources)

    async def _save_slots(self, prepared: Prepared) -> None:
        """Save the slots' checkpoints in a worker thread, off the event loop.

        A slot holding thousands of open incidents writes megabytes per save: SQLite
        writes them without the GIL, so the event loop goes on fetching meanwhile. Saves
        stay one at a time and in order (batches complete one after another, each
        awaiting its save), and none is running when partitions are assigned: a
        rebalance waits until the batches in flight are committed, and a batch commits
        only once its save returned.
        """
        if self.slots is None or self.slots.checkpoints is None or not prepared.slots:
            return
        await asyncio.to_thread(self.slots.save_prepared, prepared.slots)

    def _parser_state(self, state: ParserState, slot: int, inputs: set[str]) -> bytes:
        """What goes with a slot's correlation state: parser state and incident state.

        The parser state of the slot's inputs; the slot's open incidents, held alerts and
        release mark (:meth:`respond.incidents.IncidentTracker.slot_state`).
        """
        parsers = orjson.loads(state.keep(inputs).to_bytes())
        saved: dict[str, Any] = {"parsers": parsers}
        if self.tracker is not None:
            saved["tracker"] = orjson.Fragment(self.tracker.slot_state_json(slot))
        return orjson.dumps(saved)

    async def _flush_store(self) -> None:
        store = None if self.slots is None else self.slots.checkpoints
        flush: Callable[[], Awaitable[None]] | None = getattr(store, "flush", None)
        if flush is not None:
            await flush()

    async def complete(
        self,
        batch: SourceBatch,
        source: Source,
        *,
        flush: Callable[[], Awaitable[_T]],
        retry: Retry[None],
        parsers: ParserState | None = None,
        prepared: Prepared | None = None,
    ) -> _T:
        """Finish ``batch``: ``flush`` (every sink acknowledges), save state, commit.

        ``parsers``: the parser state ``batch``'s parse left (see :meth:`save`);
        ``prepared``: the state taken when it was detected (:meth:`prepare`), saved
        instead of the state as it is now.

        A crash after the save and before the commit leaves the store one checkpoint
        ahead of Kafka; :meth:`assign` then restores the older one (see
        :mod:`detect.correlation`).
        """
        flushed = await flush()
        # Taken once: a save tried again writes the same state.
        state = self.prepare(batch, parsers) if prepared is None else prepared

        async def save() -> None:
            await self._save_slots(state)
            self._save_sources(state)
            await self._flush_store()

        await retry("checkpoint store", save)
        await source.commit(batch)
        return flushed


def _restore_incidents(tracker: IncidentTracker, slot: int, saved: Mapping[str, Any]) -> None:
    """The slot's incidents and held alerts go on where the partition goes (same ids).

    The checkpoint's state replaces what the tracker held for the slot, as the
    correlation state does; a slot without one starts empty.
    """
    state = saved.get("tracker")
    try:
        tracker.load_slot(slot, state)
    except (KeyError, TypeError, ValueError) as error:
        _log.warning("slot %d: incident state not restored: %s", slot, error)
        tracker.load_slot(slot, None)
    if state is None and "incidents" in saved:
        # A checkpoint from before incidents were saved per slot: every open incident.
        tracker.merge(saved["incidents"])
