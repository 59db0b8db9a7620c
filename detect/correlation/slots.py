"""Correlation state per Kafka partition ("slot"), checkpointed with the offsets.

One :class:`~detect.correlation.Correlator` per Kafka partition number
(``neakta.partition``; co-partitioned family topics share a slot), and slot -1 for events
read from files. With a checkpoint store, :meth:`CorrelationSlots.checkpoint` saves each
slot's state with its offsets once the sinks acknowledged a batch (before the offsets are
committed), :meth:`CorrelationSlots.assign` restores it when partitions are assigned and
says where to seek, and :meth:`CorrelationSlots.revoke` drops the slots of revoked ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from detect.correlation.checkpoint import CheckpointStore
from detect.correlation.correlator import Correlator
from detect.correlation.errors import CorrelationStateError

__all__ = ["FILE_SLOT", "CorrelationSlots", "TopicPartition"]

FILE_SLOT: Final = -1
"""Correlation slot of events that carry no Kafka partition (read from files)."""

TopicPartition = tuple[str, int]
"""``(topic, partition)``; aiokafka's ``TopicPartition`` is one."""

_PARTITION: Final = "neakta.partition"
_log = logging.getLogger("neakta.alerting")


@dataclass
class CorrelationSlots:
    """One correlator per partition slot, and their checkpoints.

    Parameters
    ----------
    correlator
        Correlation rules and the window state of slot -1 (events without a partition);
        the correlators of partition slots are made like it.
    checkpoints, group_id
        Where :meth:`checkpoint` saves and :meth:`assign` restores slot states, under this
        consumer group; None: state lives in memory only.
    """

    correlator: Correlator
    checkpoints: CheckpointStore | None = None
    group_id: str = ""
    skipped: Counter[str] = field(default_factory=Counter, init=False)
    slots: dict[int, Correlator] = field(default_factory=dict, init=False)
    _offsets: dict[int, dict[TopicPartition, int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.slots[FILE_SLOT] = self.correlator

    def flush(self) -> pl.DataFrame:
        """At the end of a finite stream: the correlation windows still waiting for events.

        Nothing with a checkpoint store: a stopped Kafka run leaves its open windows in the
        store, and the next run goes on with them.
        """
        if self.checkpoints is not None:
            return pl.DataFrame()
        flushed = [self.slots[slot].flush() for slot in sorted(self.slots)]
        return pl.concat(flushed)

    def _slot(self, slot: int) -> Correlator:
        correlator = self.slots.get(slot)
        if correlator is None:
            correlator = self.slots[slot] = self._fresh()
        return correlator

    def _fresh(self) -> Correlator:
        template = self.correlator
        return Correlator(
            template.correlations,
            lateness_s=template.lateness_us / 1_000_000,
            max_event_ids=template.max_event_ids,
        )

    def correlate(self, events: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
        """Each slot's events and matches through that slot's correlator."""
        if _PARTITION in events.columns:
            slots = events.get_column(_PARTITION).fill_null(FILE_SLOT)
        else:
            slots = pl.repeat(FILE_SLOT, events.height, dtype=pl.Int32, eager=True)
        present = slots.unique().sort().to_list() or [FILE_SLOT]
        found = []
        for slot in present:
            if len(present) == 1:
                part, local = events, matches
            else:
                rows = (slots == slot).arg_true().cast(pl.UInt32)
                part = events[rows]
                where = pl.DataFrame(
                    {"row": rows, "_local": pl.int_range(rows.len(), dtype=pl.UInt32, eager=True)}
                )
                local = (
                    matches.join(where, on="row", how="inner", maintain_order="left")
                    .with_columns(row=pl.col("_local"))
                    .drop("_local")
                )
            result = self._slot(slot).process(part, local)
            self.skipped.update(result.skipped.get_column("reason").to_list())
            found.append(result.alerts)
        return pl.concat(found)

    def checkpoint(self, position: Mapping[Hashable, int]) -> None:
        """Save the state of every slot the batch at ``position`` read, with its offsets.

        Call it once every sink acknowledged the batch and before its offsets are
        committed. Keys of ``position`` that are not ``(topic, partition)`` (files) are
        ignored, and so is the call without a checkpoint store.
        """
        if self.checkpoints is None:
            return
        read: dict[int, dict[TopicPartition, int]] = {}
        for key, offset in position.items():
            if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
                read.setdefault(key[1], {})[(str(key[0]), key[1])] = offset
        for slot, offsets in sorted(read.items()):
            # The state covers everything the slot read before, of every topic.
            kept = self._offsets.setdefault(slot, {})
            kept.update(offsets)
            self.checkpoints.save(self.group_id, str(slot), kept, self._slot(slot).snapshot())

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned (with Kafka's committed offsets): restore their slots.

        Each slot restarts from the newest checkpoint at or before the committed offsets
        (empty state when there is none); returns the offsets to seek the consumer to.
        """
        by_slot: dict[int, dict[TopicPartition, int | None]] = {}
        for (topic, partition), offset in committed.items():
            by_slot.setdefault(partition, {})[(topic, partition)] = offset
        seeks: dict[TopicPartition, int] = {}
        for slot, offsets in sorted(by_slot.items()):
            correlator = self.slots[slot] = self._fresh()
            self._offsets[slot] = {}
            if self.checkpoints is None:
                continue
            point = self.checkpoints.restore_point(self.group_id, str(slot), offsets)
            if point is None:
                continue
            try:
                correlator.restore(point.state)
            except CorrelationStateError as error:
                _log.warning("slot %d starts empty, its checkpoint is unreadable: %s", slot, error)
                continue
            self._offsets[slot] = dict(point.offsets)
            seeks.update(point.offsets)
        return seeks

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: their slots' state is in the store, drop it here."""
        for _topic, partition in partitions:
            self.slots.pop(partition, None)
            self._offsets.pop(partition, None)
