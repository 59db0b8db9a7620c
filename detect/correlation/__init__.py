"""Sigma correlation rules evaluated on the live stream, with state that survives restarts.

>>> from detect.correlation import CorrelationSet, Correlator, SQLiteCheckpointStore

Pipeline use, per batch of one partition::

    matches = ruleset.evaluate(events)               # base rules (CompiledRuleSet)
    result = correlator.process(events, matches)     # correlation alerts + skipped events
    alerts = correlations.visible(matches)           # base rules with ``generate: false`` hidden

Event time, lateness and windows
    Windows use ``@timestamp``. Every input (topic partition, file) has its own
    watermark; the combined watermark is their minimum minus the allowed lateness, and a
    window is evaluated once it has passed, with matched events buffered until then. So
    alerts are the same however inputs interleave and the stream is cut into batches. A
    matched event older than its *own input's* latest earlier event minus the lateness is
    late: it comes back in ``result.skipped`` with ``reason`` ``late: ...`` (and
    ``Correlator.skipped_counts``). Events stamped beyond the clock plus the allowed skew
    move no watermark (``clock skew: ...``). See :mod:`detect.correlation.eventtime` and
    :mod:`detect.correlation.windows`.

Checkpoint protocol (at-least-once, no lost and no doubled correlation alerts)
    1. After every sink acknowledged the batch's alerts, save ``(offsets, snapshot())`` in
       the :class:`CheckpointStore` in one transaction (it keeps the last few per slot);
    2. then commit the same offsets to Kafka.
    3. On start or assignment, read Kafka's committed offsets and call
       ``store.restore_point(group, slot, committed)``: it returns the newest checkpoint
       whose offsets are *at or before* the committed ones. Restore its state and seek
       the consumer to its offsets.

    A crash between 1 and 2 leaves Kafka one checkpoint behind the store: the older
    checkpoint matches Kafka's offsets exactly, so its state is restored and the
    uncommitted batch is read again, counted once. Restoring the newer state instead would
    count that batch twice (a false threshold crossing). If Kafka is ahead of every
    checkpoint (the store was lost or rolled back), the consumer seeks back to the newest
    checkpoint and replays: correlation alert ids are deterministic (rule id, group
    values, window end) and alerts do not depend on batch boundaries, so replayed alerts
    are duplicates the sinks drop. With no checkpoint at all the state starts empty at
    Kafka's offsets (windows open across that start can be missed; they are never doubled).

Partitions and keys
    Forwarders key records by ministry + host, so every event of one host lands in one
    partition, and a correlation grouped by host (or by anything the host determines) sees
    the whole group in one partition's state. Correlations across log families (web then
    endpoint) need the family topics *co-partitioned*: the same partition count and the
    same key, so host X is partition p in every topic, and one consumer holding partition
    p of every topic: use Kafka's range assignor (``RangePartitionAssignor`` in aiokafka,
    whose default is round-robin). Run one :class:`Correlator` per partition number
    ("slot") fed by that partition of each topic, checkpointed under that slot.
    Groups that span partitions (``group-by: source.ip`` when one attacker hits hosts of
    several ministries) are counted per partition: each partition sees part of the group,
    so a threshold reached only in total is missed, and each partition may alert on its
    own share. Such rules belong on a topic keyed by their group-by field (a repartition
    step), or their thresholds must be read as per-host.

Cross-family streams: each topic partition of a slot is an input of its own, so a family
that lags holds the slot's watermark back instead of making its events late; an input
silent for the idle time stops holding it.
"""

from detect.correlation.checkpoint import (
    Changelog,
    ChangelogCheckpointStore,
    Checkpoint,
    CheckpointStore,
    SQLiteCheckpointStore,
)
from detect.correlation.correlator import CorrelationResult, CorrelationSet, Correlator
from detect.correlation.errors import CheckpointError, CorrelationStateError
from detect.correlation.eventtime import EventTime
from detect.correlation.hits import SKIPPED_SCHEMA
from detect.correlation.model import CompiledCorrelation, Condition, Input
from detect.correlation.slots import FILE_SLOT, CorrelationSlots, TopicPartition
from detect.correlation.windows import ALERT_SCHEMA

__all__ = [
    "ALERT_SCHEMA",
    "FILE_SLOT",
    "SKIPPED_SCHEMA",
    "Changelog",
    "ChangelogCheckpointStore",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "CompiledCorrelation",
    "Condition",
    "CorrelationResult",
    "CorrelationSet",
    "CorrelationSlots",
    "CorrelationStateError",
    "Correlator",
    "EventTime",
    "Input",
    "SQLiteCheckpointStore",
    "TopicPartition",
]
