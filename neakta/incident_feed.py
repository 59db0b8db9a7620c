"""The grouping half of incident routing: the incident topic's partitions, grouped in order.

See :mod:`respond.routing`. Every ``neakta run`` process of a group is also a member of a
second consumer group, ``<group>.incidents``, over the incident topic; the partitions it
is given are its incident slots. :meth:`IncidentFeed.step` runs after each pipeline batch,
on the pipeline's task (so it never writes a sink while the pipeline does): it takes what
the partitions brought, holds the facts, notes the marks, groups the facts the marks let
go in event-time order, and finishes in the pipeline's order: the incidents to every sink,
then each slot's state (open incidents, held facts, marks) to the checkpoint store, then
the offsets. An assigned partition resumes from the checkpoint that matches its committed
offset; a fact read twice (a sender that crashed before its commit sends again) is kept
once, by alert id.

A slot's state is saved whole, and it grows with the incidents the slot holds (150,000
open incidents: 66 MB; the JSON of those unchanged since the last save is reused, yet a
save still takes a tenth of a second or more). So it is saved at most every
``checkpoint_s`` seconds while facts keep coming, and at once when a fetch brings nothing
(caught up), when partitions are taken away, and on close; in between, the incidents go to
the sinks as before but the offsets are not committed. A crash then costs re-reading the
facts since the last checkpoint: grouped again in the same order, they give the same
incidents with the same ids, which the sinks already hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from detect.correlation import ChangelogCheckpointStore, CheckpointStore
from neakta.alerting import report_out_of_order
from respond.incidents import NO_CHANGES, IncidentTracker
from respond.routing import MarkBook, SourceMark, read_record
from respond.sinks import SinkBatch

__all__ = ["IncidentFeed"]

_log = logging.getLogger("neakta.incidents")

Deliver = Callable[[SinkBatch], Awaitable[object]]
"""Writes a batch of incidents to every sink (retrying as the pipeline does)."""


@dataclass
class IncidentFeed:
    """A member of the incident topic's consumer group, grouping its partitions' facts.

    Parameters
    ----------
    consumer
        An aiokafka consumer of the group, not started (auto commit off).
    topic
        The incident topic.
    group_id
        The consumer group (checkpoints are saved under it).
    tracker
        Groups the facts; its slots are the partitions of the incident topic.
    store
        Where each partition's state is checkpointed.
    checkpoint_s
        Longest time between two checkpoints while facts keep coming (0: every step).
    """

    consumer: Any
    topic: str
    group_id: str
    tracker: IncidentTracker
    store: CheckpointStore
    checkpoint_s: float = 10.0
    records: int = 0
    refused: int = 0
    checkpoints: int = 0
    _books: dict[int, MarkBook] = field(default_factory=dict, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _generation: int = field(default=0, init=False)
    _counts: tuple[int, int] = field(default=(0, 0), init=False)
    _joining: asyncio.Task[None] | None = field(default=None, init=False)
    # What an assignment raised (its partitions are not in place): the next step raises it.
    _failed: Exception | None = field(default=None, init=False)
    # Next offset per partition grouped since the last checkpoint, and when that was.
    _unsaved: dict[Any, int] = field(default_factory=dict, init=False)
    _saved_at: float = field(default_factory=time.monotonic, init=False)

    async def start(self) -> None:
        """Join the group."""
        from aiokafka.abc import ConsumerRebalanceListener

        from ingest.sources.kafka import ASSIGN_TIMEOUT_S, bounded_assignment

        feed = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await feed._revoked(sorted(tp.partition for tp in revoked))

            async def on_partitions_assigned(self, assigned: Any) -> None:
                # A store that never answers would hold the lock every step waits for:
                # the next step raises what it failed with instead.
                feed._failed = await bounded_assignment(
                    feed._assigned(sorted(assigned)),
                    timeout_s=ASSIGN_TIMEOUT_S,
                    what="incident partitions",
                )

        self.consumer.subscribe([self.topic], listener=Listener())
        # Joining takes seconds: the pipeline starts meanwhile, steps wait for it.
        self._joining = asyncio.create_task(self.consumer.start())

    async def _revoked(self, partitions: list[int]) -> None:
        async with self._lock:
            self._generation += 1
            # What was grouped since the last checkpoint is saved for the next owner.
            await self._checkpoint()
            for partition in partitions:
                self.tracker.forget_slot(partition, saved=False)
                self._books.pop(partition, None)

    async def _assigned(self, assigned: list[Any]) -> None:
        async with self._lock:
            self._generation += 1
            held = set(self.tracker.slots()) | set(self._books)
            for gone in held - {tp.partition for tp in assigned}:
                self.tracker.forget_slot(gone, saved=False)
                self._books.pop(gone, None)
            # Every assigned partition resumes from its checkpoint (read again from there).
            self._unsaved.clear()
            committed = {tp: await self.consumer.committed(tp) for tp in assigned}
            if isinstance(self.store, ChangelogCheckpointStore):
                await self.store.load(self.group_id, (str(tp.partition) for tp in assigned))
            forward = {}
            for tp, offset in committed.items():
                resumed = await self._restore(tp, offset)
                if resumed > (offset or 0):
                    forward[tp] = resumed
            if forward:
                # A checkpoint past the committed offset (its commit was lost) vouches for
                # what is before it: commit it now, as no later record may come to do it.
                await self._commit(forward)

    async def _restore(self, tp: Any, committed: int | None) -> int:
        """A partition resumes from its checkpoint at its committed offset (or starts empty).

        Returns the offset it resumes at.
        """
        partition = tp.partition
        point = self.store.restore_point(
            self.group_id, str(partition), {(self.topic, partition): committed}
        )
        self.tracker.load_slot(partition, None)
        self._books[partition] = MarkBook()
        offset = committed
        if point is not None:
            try:
                state = orjson.loads(point.state)
                self.tracker.load_slot(partition, state["tracker"])
                self._books[partition] = MarkBook.from_state(state["marks"])
                offset = point.offsets[(self.topic, partition)]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                _log.warning("incident slot %d starts empty: %s", partition, error)
                self.tracker.load_slot(partition, None)
                self._books[partition] = MarkBook()
                offset = committed
        self.tracker.watch([partition])
        if offset is None:
            offset = (await self.consumer.beginning_offsets([tp]))[tp]
        self.consumer.seek(tp, offset)
        return int(offset)

    async def step(self, deliver: Deliver, *, timeout_ms: int = 0) -> int:
        """Take what the partitions brought, group, deliver, checkpoint, commit; how many."""
        if self._failed is not None:
            raise self._failed
        joining = self._joining
        if joining is not None:
            if not joining.done():
                return 0
            self._joining = None
            joining.result()  # a failed start is raised here
        generation = self._generation
        fetched = await self.consumer.getmany(timeout_ms=timeout_ms)
        if not fetched:
            if self._unsaved:
                async with self._lock:
                    await self._checkpoint()  # caught up: nothing waits to be grouped
            return 0
        async with self._lock:
            if self._failed is not None:
                raise self._failed  # it failed while this step waited for it
            if generation != self._generation:
                # A rebalance positioned every partition again: these are read again.
                return 0
            assigned = self.consumer.assignment()
            mine = {tp: records for tp, records in fetched.items() if tp in assigned and records}
            changed = [self._take(tp.partition, records) for tp, records in sorted(mine.items())]
            incidents = [frame for frame in changed if frame.height]
            if incidents:
                grouped = pl.concat(incidents, how="diagonal_relaxed")
                # No changes of the pipeline's own tracker go with these (its batches take
                # theirs as they are detected, maybe one now: see neakta.pipeline).
                await deliver(SinkBatch(incidents=grouped, tracker=NO_CHANGES))
            self._unsaved.update({tp: records[-1].offset + 1 for tp, records in mine.items()})
            self.tracker.saved()
            if time.monotonic() - self._saved_at >= self.checkpoint_s:
                await self._checkpoint()
        count = sum(len(records) for records in mine.values())
        self.records += count
        self._counts = report_out_of_order(self.tracker, self._counts)
        return count

    def _take(self, partition: int, records: Iterable[Any]) -> pl.DataFrame:
        """One partition's records: facts held, marks noted; the incidents they changed."""
        book = self._books.setdefault(partition, MarkBook())
        facts: list[dict[str, Any]] = []
        for record in records:
            try:
                read = read_record(record.value)
            except ValueError as error:
                self.refused += 1
                _log.warning("%s/%d/%d: %s", self.topic, partition, record.offset, error)
                continue
            if isinstance(read, SourceMark):
                book.note(read)
            else:
                facts.extend({**fact, "slot": partition} for fact in read)
        taken = self.tracker.take(facts)
        released = self.tracker.release({partition: book.release_mark()})
        return pl.concat([taken, released]) if taken.height else released

    async def _checkpoint(self) -> None:
        """Save the state of the partitions grouped since the last time, then commit them."""
        self._saved_at = time.monotonic()
        offsets, self._unsaved = self._unsaved, {}
        if not offsets:
            return
        await self._save(offsets)
        if isinstance(self.store, ChangelogCheckpointStore):
            await self.store.flush()
        await self._commit(offsets)
        self.checkpoints += 1

    async def _save(self, offsets: dict[Any, int]) -> None:
        """Save each partition's state: built here, written in a worker thread.

        The tracker is only read on the event loop, which adds its alerts; the megabytes
        of a partition holding thousands of incidents are written meanwhile without the
        GIL. Callers hold the lock, so no assignment reads the store during a save.
        """
        saves = []
        for tp, offset in sorted(offsets.items()):
            state = {
                "tracker": orjson.Fragment(self.tracker.slot_state_json(tp.partition)),
                "marks": self._books[tp.partition].state(),
            }
            offsets_of = {(self.topic, tp.partition): offset}
            saves.append((str(tp.partition), offsets_of, orjson.dumps(state)))
        await asyncio.to_thread(self._write, saves)

    def _write(self, saves: list[tuple[str, dict[Any, int], bytes]]) -> None:
        for slot, offsets, state in saves:
            self.store.save(self.group_id, slot, offsets, state)

    async def _commit(self, offsets: dict[Any, int]) -> None:
        from aiokafka.errors import CommitFailedError, IllegalStateError

        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            _log.warning("incident offsets not committed, read again by the new owner: %s", error)

    async def close(self) -> None:
        """Save what was grouped since the last checkpoint, then leave the group."""
        if self._joining is not None and not self._joining.done():
            self._joining.cancel()
        elif self._unsaved:
            async with self._lock:
                await self._checkpoint()
        await self.consumer.stop()
