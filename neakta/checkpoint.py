"""The end of a batch, in order: sinks flushed -> state saved -> offsets committed.

:class:`Checkpoint` is the one place that order lives. It also holds what resumes from
saved state: the correlation slots (restored when Kafka assigns partitions, dropped when it
revokes them), the parsers' per-input state (IIS ``#Fields:``) and the open incidents, both
saved with each slot so that they move with its partitions, and the incident tracker
(resumed from the embedded store at start). A checkpoint store that
keeps its checkpoints in the broker (a changelog) is flushed, and its write acknowledged,
before the offsets are committed, and read back before partitions are restored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import orjson

from detect.correlation import CorrelationSlots, TopicPartition
from ingest.errors import IngestError
from ingest.sources import Source, SourceBatch
from ingest.sources.parsing import ParserState
from respond.incidents import IncidentTracker
from respond.source_watch import SourceWatch
from respond.store import SqliteStore

__all__ = ["Checkpoint", "Retry"]

_T = TypeVar("_T")

Retry = Callable[[str, Callable[[], Awaitable[_T]]], Awaitable[_T]]
"""``retry(what, call)``: await ``call`` until it succeeds (backpressure on outages)."""

_log = logging.getLogger("neakta.checkpoint")


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
        return self.incidents.resume(self.tracker)

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned: restore their slots; the offsets to seek to."""
        if self.slots is None:
            return {}
        seeks = self.slots.assign(committed)
        for slot, extra in sorted(self.slots.restored_extras.items()):
            if not extra:
                continue
            try:
                saved = orjson.loads(extra)
                parsers = ParserState.from_bytes(orjson.dumps(saved["parsers"]))
                incidents = saved["incidents"]
            except (orjson.JSONDecodeError, KeyError, TypeError, IngestError) as error:
                _log.warning("slot %d: parser and incident state not restored: %s", slot, error)
                continue
            self.parsers.iis_fields.update(parsers.iis_fields)
            if self.tracker is not None:
                # The open incidents go on where the partition goes (same ids).
                self.tracker.merge(incidents)
        return seeks

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: drop their slots (their state is in the store)."""
        revoked = list(partitions)
        if self.slots is not None:
            self.slots.revoke(revoked)
        for topic, partition in revoked:
            self.parsers.iis_fields.pop(f"{topic}/{partition}", None)

    def save(self, batch: SourceBatch, parsers: ParserState | None = None) -> None:
        """Save the state of the slots ``batch`` read, with its offsets, and the counters.

        ``parsers``: the parser state as ``batch``'s parse left it, when later batches
        were parsed since (default: :attr:`parsers`).
        """
        if self.slots is not None:
            extras = partial(self._parser_state, self.parsers if parsers is None else parsers)
            self.slots.checkpoint(batch.position, extras=extras)
        if self.sources is not None:
            self.sources.checkpoint()

    def _parser_state(self, state: ParserState, slot: int, inputs: set[str]) -> bytes:
        """What goes with a slot's correlation state: parser state and open incidents.

        The parser state of the slot's inputs; the open incidents all of them, since
        whoever takes the slot over may extend any.
        """
        parsers = orjson.loads(state.keep(inputs).to_bytes())
        incidents = self.tracker.snapshot() if self.tracker is not None else []
        return orjson.dumps({"parsers": parsers, "incidents": incidents})

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
    ) -> _T:
        """Finish ``batch``: ``flush`` (every sink acknowledges), save state, commit.

        ``parsers``: the parser state ``batch``'s parse left (see :meth:`save`).

        A crash after the save and before the commit leaves the store one checkpoint
        ahead of Kafka; :meth:`assign` then restores the older one (see
        :mod:`detect.correlation`).
        """
        flushed = await flush()

        async def save() -> None:
            self.save(batch, parsers)
            await self._flush_store()

        await retry("checkpoint store", save)
        await source.commit(batch)
        return flushed
