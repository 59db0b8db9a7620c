"""Correlation state per Kafka partition ("slot"), checkpointed with the offsets.

One :class:`~detect.correlation.Correlator` per Kafka partition number
(``neakta.partition``; co-partitioned family topics share a slot), and slot -1 for events
read from files. With a checkpoint store, :meth:`CorrelationSlots.checkpoint` saves each
slot's state with its offsets once the sinks acknowledged a batch (before the offsets are
committed), :meth:`CorrelationSlots.assign` restores it when partitions are assigned and
says where to seek, and :meth:`CorrelationSlots.revoke` drops the slots of revoked ones.

Event time is per input (``neakta.input``: a topic partition, a file): a slot's inputs
are the partitions of its number in every topic, registered on assignment, or the files
of a replay, registered before the first batch and finished at their end. ``clock`` is
the processing clock of a live run (idle inputs, clock skew); None in replay, where the
data's own clock judges skew and nothing goes idle. A slot's checkpoint may carry
*extras* (the parser state of its inputs), saved and restored with it.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from detect.correlation.checkpoint import CheckpointStore
from detect.correlation.correlator import Correlator
from detect.correlation.errors import CorrelationStateError
from detect.correlation.windows import ALERT_SCHEMA

__all__ = ["FILE_SLOT", "CorrelationSlots", "TopicPartition"]

FILE_SLOT: Final = -1
"""Correlation slot of events that carry no Kafka partition (read from files)."""

TopicPartition = tuple[str, int]
"""``(topic, partition)``; aiokafka's ``TopicPartition`` is one."""

_PARTITION: Final = "neakta.partition"
_INPUT: Final = "neakta.input"
_SLOT_MAGIC: Final = b"NEAKTA-SLOT-1\n"
_log = logging.getLogger("neakta.alerting")


def _pack(state: bytes, extra: bytes) -> bytes:
    return _SLOT_MAGIC + struct.pack(">I", len(state)) + state + extra


def _unpack(blob: bytes) -> tuple[bytes, bytes]:
    if not blob.startswith(_SLOT_MAGIC):
        return blob, b""
    start = len(_SLOT_MAGIC)
    (size,) = struct.unpack(">I", blob[start : start + 4])
    return blob[start + 4 : start + 4 + size], blob[start + 4 + size :]


def _input(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


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
    clock
        Processing time in seconds since the epoch (a live run); None: replay.
    """

    correlator: Correlator
    checkpoints: CheckpointStore | None = None
    group_id: str = ""
    clock: Callable[[], float] | None = None
    skipped: Counter[str] = field(default_factory=Counter, init=False)
    slots: dict[int, Correlator] = field(default_factory=dict, init=False)
    restored_extras: dict[int, bytes] = field(default_factory=dict, init=False)
    alert_slots: dict[str, int] = field(default_factory=dict, init=False)
    """The slot of each alert given since the caller last cleared it, by alert id."""
    _offsets: dict[int, dict[TopicPartition, int]] = field(default_factory=dict, init=False)
    _dirty: set[int] = field(default_factory=set, init=False)
    _batch_now: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.slots[FILE_SLOT] = self.correlator

    def flush(self) -> pl.DataFrame:
        """At the end of a finite stream: the correlation windows still waiting for events.

        Nothing with a checkpoint store: a stopped Kafka run leaves its open windows in the
        store, and the next run goes on with them.
        """
        if self.checkpoints is not None:
            return pl.DataFrame(schema=ALERT_SCHEMA)
        flushed = [self._noted(slot, self.slots[slot].flush()) for slot in sorted(self.slots)]
        return pl.concat(flushed)

    @property
    def skewed(self) -> Counter[str]:
        """Events per input stamped beyond the clock plus the allowed skew."""
        total: Counter[str] = Counter()
        for correlator in self.slots.values():
            total.update(correlator.skewed)
        return total

    def _now(self) -> float | None:
        return None if self.clock is None else self.clock()

    def expect(self, inputs: list[str]) -> None:
        """Files a replay will read (slot -1): windows wait for each until it ends."""
        self._slot(FILE_SLOT).expect(inputs, now_s=self._now())

    def end(self, inputs: Iterable[str]) -> pl.DataFrame:
        """Files that ended: the alerts their end makes final."""
        names = list(inputs)
        if not names:
            return pl.DataFrame(schema=ALERT_SCHEMA)
        self._dirty.add(FILE_SLOT)
        return self._noted(FILE_SLOT, self._slot(FILE_SLOT).finish(names))

    def touch(self, busy: Iterable[str]) -> None:
        """A batch begins; ``busy`` inputs (records not processed yet) are not idle.

        The processing clock is read here once for the whole batch, up to its
        :meth:`tick`: however long its families take, an input cannot go idle between
        them while its records wait in the batch.
        """
        now = self._batch_now = self._now()
        lagging = list(busy)
        if now is None or not lagging:
            return
        for correlator in self.slots.values():
            correlator.touch(lagging, now_s=now)

    def tick(self, busy: Iterable[str] = ()) -> pl.DataFrame:
        """The batch ends (or no record came): release idle inputs, not those in ``busy``."""
        now = self._reading()
        self._batch_now = None
        if now is None:
            return pl.DataFrame(schema=ALERT_SCHEMA)
        lagging = list(busy)
        found = []
        for slot, correlator in sorted(self.slots.items()):
            correlator.touch(lagging, now_s=now)
            alerts = correlator.advance(now_s=now)
            if alerts.height:
                self._dirty.add(slot)
                found.append(self._noted(slot, alerts))
        return pl.concat(found) if found else pl.DataFrame(schema=ALERT_SCHEMA)

    def _reading(self) -> float | None:
        """The processing time of the batch under way (read by :meth:`touch`), else now."""
        return self._batch_now if self._batch_now is not None else self._now()

    def _noted(self, slot: int, alerts: pl.DataFrame) -> pl.DataFrame:
        self.alert_slots.update(dict.fromkeys(alerts.get_column("alert_id").to_list(), slot))
        return alerts

    def marks(self) -> dict[int, tuple[int | None, int | None]]:
        """Per slot with inputs: its windows' final point and its latest event time.

        The event time (µs) up to which the slot's windows are final, and the latest event
        time its inputs accepted (events whose clock ran ahead are not accepted).
        """
        return {
            slot: (correlator.watermark, correlator.clock.latest())
            for slot, correlator in sorted(self.slots.items())
            if correlator.clock.inputs
        }

    def idle(self) -> set[int]:
        """The slots whose inputs are all idle (or finished): they hold no event time back."""
        now = self._now()
        return {slot for slot, correlator in self.slots.items() if correlator.clock.idle(now)}

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
            max_skew_s=template.max_skew_us / 1_000_000,
            idle_s=template.idle_s,
        )

    def correlate(self, events: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
        """Each slot's events and matches through that slot's correlator."""
        if _PARTITION in events.columns:
            slots = events.get_column(_PARTITION).fill_null(FILE_SLOT)
        else:
            slots = pl.repeat(FILE_SLOT, events.height, dtype=pl.Int32, eager=True)
        present = slots.unique().sort().to_list() or [FILE_SLOT]
        inputs = events.get_column(_INPUT).cast(pl.String) if _INPUT in events.columns else None
        now = self._reading()
        found = []
        for slot in present:
            self._dirty.add(slot)
            if len(present) == 1:
                part, local, where_from = events, matches, inputs
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
                where_from = None if inputs is None else inputs[rows]
            result = self._slot(slot).process(part, local, inputs=where_from, now_s=now)
            self.skipped.update(result.skipped.get_column("reason").to_list())
            found.append(self._noted(slot, result.alerts))
        return pl.concat(found)

    def checkpoint(
        self,
        position: Mapping[Hashable, int],
        extras: Callable[[int, set[str]], bytes] | None = None,
    ) -> None:
        """Save the state of every slot the batch at ``position`` read, with its offsets.

        Call it once every sink acknowledged the batch and before its offsets are
        committed. Keys of ``position`` that are not ``(topic, partition)`` (files) are
        ignored, and so is the call without a checkpoint store. Slots whose state moved
        without records (idle inputs released) are saved with the offsets they had.
        ``extras(slot, inputs)`` gives bytes saved with a slot's state.
        """
        self.save_prepared(self.prepare_checkpoint(position, extras))

    def prepare_checkpoint(
        self,
        position: Mapping[Hashable, int],
        extras: Callable[[int, set[str]], bytes] | None = None,
    ) -> list[tuple[str, dict[TopicPartition, int], bytes]]:
        """What :meth:`checkpoint` saves, taken now: ``(slot, offsets, state)`` per slot.

        Taken as soon as the batch at ``position`` is detected, so that the next batch may
        be detected while this one is delivered; saved with :meth:`save_prepared` once
        every sink acknowledged it.
        """
        dirty, self._dirty = self._dirty, set()
        if self.checkpoints is None:
            return []
        read: dict[int, dict[TopicPartition, int]] = {}
        for key, offset in position.items():
            if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
                read.setdefault(key[1], {})[(str(key[0]), key[1])] = offset
        for slot in dirty:
            if slot != FILE_SLOT and slot in self._offsets and self._offsets[slot]:
                read.setdefault(slot, {})
        prepared: list[tuple[str, dict[TopicPartition, int], bytes]] = []
        for slot, offsets in sorted(read.items()):
            # The state covers everything the slot read before, of every topic.
            kept = self._offsets.setdefault(slot, {})
            kept.update(offsets)
            correlator = self._slot(slot)
            inputs = {_input(topic, partition) for topic, partition in kept}
            extra = extras(slot, inputs) if extras is not None else b""
            state = _pack(correlator.snapshot(), extra)
            prepared.append((str(slot), dict(kept), state))
        return prepared

    def save_prepared(self, prepared: list[tuple[str, dict[TopicPartition, int], bytes]]) -> None:
        """Save what :meth:`prepare_checkpoint` took."""
        if self.checkpoints is None:
            return
        for slot, offsets, state in prepared:
            self.checkpoints.save(self.group_id, slot, offsets, state)

    def assign(self, committed: Mapping[TopicPartition, int | None]) -> dict[TopicPartition, int]:
        """Partitions were assigned (with Kafka's committed offsets): restore their slots.

        Each slot restarts from the newest checkpoint at or before the committed offsets
        (empty state when there is none); returns the offsets to seek the consumer to.
        """
        by_slot: dict[int, dict[TopicPartition, int | None]] = {}
        for (topic, partition), offset in committed.items():
            by_slot.setdefault(partition, {})[(topic, partition)] = offset
        seeks: dict[TopicPartition, int] = {}
        now = self._now()
        for slot, offsets in sorted(by_slot.items()):
            correlator = self.slots[slot] = self._fresh()
            self._offsets[slot] = {}
            self.restored_extras.pop(slot, None)
            inputs = [_input(topic, partition) for topic, partition in sorted(offsets)]
            if self.checkpoints is not None:
                point = self.checkpoints.restore_point(self.group_id, str(slot), offsets)
                if point is not None:
                    state, extra = _unpack(point.state)
                    try:
                        correlator.restore(state, now_s=now)
                    except CorrelationStateError as error:
                        _log.warning(
                            "slot %d starts empty, its checkpoint is unreadable: %s", slot, error
                        )
                    else:
                        self._offsets[slot] = dict(point.offsets)
                        self.restored_extras[slot] = extra
                        seeks.update(point.offsets)
            # The slot's partitions hold its watermark until they deliver or go idle.
            correlator.expect(inputs, now_s=now)
        return seeks

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions were revoked: their slots' state is in the store, drop it here."""
        for _topic, partition in partitions:
            self.slots.pop(partition, None)
            self._offsets.pop(partition, None)
            self._dirty.discard(partition)
