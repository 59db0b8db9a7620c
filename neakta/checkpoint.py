"""The end of a batch, in order: sinks flushed -> state saved -> offsets committed.

:class:`Checkpoint` is the one place that order lives. It also holds what resumes from
saved state: the correlation slots (restored when Kafka assigns partitions, dropped when it
revokes them) and the incident tracker (resumed from the embedded store at start).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from detect.correlation import CorrelationSlots, TopicPartition
from ingest.sources import Source, SourceBatch
from respond.incidents import IncidentTracker
from respond.source_watch import SourceWatch
from respond.store import SqliteStore

__all__ = ["Checkpoint", "Retry"]

_T = TypeVar("_T")

Retry = Callable[[str, Callable[[], Awaitable[_T]]], Awaitable[_T]]
"""``retry(what, call)``: await ``call`` until it succeeds (backpressure on outages)."""


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
    sources
        Per-source counters and the silent-source clock, written at each save.
    """

    slots: CorrelationSlots | None = None
    incidents: SqliteStore | None = None
    tracker: IncidentTracker | None = None
    sources: SourceWatch | None = None

    def resume(self) -> int:
        """Resume the tracker's incidents from the store; how many were open."""
        if self.incidents is None or self.tracker is None:
            return 0
        return self.incidents.resume(self.tracker)

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned: restore their slots; the offsets to seek to."""
        return {} if self.slots is None else self.slots.assign(committed)

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: drop their slots (their state is in the store)."""
        if self.slots is not None:
            self.slots.revoke(partitions)

    def save(self, batch: SourceBatch) -> None:
        """Save the state of the slots ``batch`` read, with its offsets, and the counters."""
        if self.slots is not None:
            self.slots.checkpoint(batch.position)
        if self.sources is not None:
            self.sources.checkpoint()

    async def complete(
        self,
        batch: SourceBatch,
        source: Source,
        *,
        flush: Callable[[], Awaitable[_T]],
        retry: Retry[None],
    ) -> _T:
        """Finish ``batch``: ``flush`` (every sink acknowledges), save state, commit.

        A crash after the save and before the commit leaves the store one checkpoint
        ahead of Kafka; :meth:`assign` then restores the older one (see
        :mod:`detect.correlation`).
        """
        flushed = await flush()

        async def save() -> None:
            self.save(batch)

        await retry("checkpoint store", save)
        await source.commit(batch)
        return flushed
