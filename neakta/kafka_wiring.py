"""Build the parts of a Kafka run from settings: the consumer, its DLQ, the checkpoint store.

The consumer uses the range assignor, so partition p of every co-partitioned topic goes to
one process (one correlation slot per partition number); the checkpoint restores a
partition's correlation state when it is assigned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from detect.correlation import ChangelogCheckpointStore, CheckpointStore, SQLiteCheckpointStore
from ingest.deadletter import DeadLetterSink, KafkaDeadLetters, start_producer
from ingest.sources import Source
from neakta.checkpoint import Checkpoint
from neakta.settings import KafkaSettings, Settings, reveal

__all__ = ["checkpoint_store", "kafka_source"]


def _kafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    from ingest.sources.kafka import security_options

    return {
        "client_id": kafka.client_id,
        **security_options(
            security_protocol=kafka.security_protocol,
            sasl_mechanism=kafka.sasl_mechanism,
            username=kafka.username,
            password=reveal(kafka.password),
            ca_file=kafka.ca_file,
        ),
    }


async def _load_assigned(checkpoint: Checkpoint, committed: Mapping[Any, int | None]) -> None:
    """Read back the checkpoints of the assigned partitions' slots (before restoring them).

    A changelog is read for those slots only: its read is bounded by what was written since
    their last checkpoints, not by everything the group ever wrote.
    """
    slots = checkpoint.slots
    store = None if slots is None else slots.checkpoints
    if slots is not None and isinstance(store, ChangelogCheckpointStore):
        await store.load(slots.group_id, {str(partition) for _topic, partition in committed})
    else:
        await checkpoint.load()


async def kafka_source(
    kafka: KafkaSettings,
    *,
    bootstrap_servers: str,
    topics: Sequence[str],
    group_id: str,
    max_record_bytes: int,
    stop: asyncio.Event,
    checkpoint: Checkpoint,
) -> tuple[Source, DeadLetterSink]:
    """The Kafka consumer (range assignor: one slot per partition number) and its DLQ."""
    from aiokafka import TopicPartition
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor

    from ingest.sources.kafka import KafkaSource

    async def on_assigned(committed: dict[TopicPartition, int | None]) -> dict[Any, int]:
        await _load_assigned(checkpoint, committed)
        return checkpoint.assign(committed)

    async def on_revoked(partitions: list[TopicPartition]) -> None:
        checkpoint.revoke(partitions)

    options = _kafka_options(kafka)
    producer, _ = await start_producer(
        bootstrap_servers=bootstrap_servers, idempotence=kafka.dlq_idempotence, **options
    )
    source = KafkaSource(
        bootstrap_servers=bootstrap_servers,
        topics=list(topics),
        group_id=group_id,
        families=kafka.families,
        max_records=kafka.max_records,
        timeout_ms=kafka.poll_timeout_ms,
        linger_ms=kafka.linger_ms,
        max_record_bytes=max_record_bytes,
        stop=stop,
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        # Partition p of every co-partitioned topic to one consumer: one correlation slot.
        partition_assignment_strategy=(RangePartitionAssignor,),
        on_assigned=on_assigned,
        on_revoked=on_revoked,
        # Empty polls reach the pipeline too: idle inputs are released without records.
        ticks=True,
        **options,
    )
    return source, KafkaDeadLetters(producer)


def checkpoint_store(
    settings: Settings, *, bootstrap_servers: str, group_id: str, path: Path
) -> tuple[Callable[[], CheckpointStore], Callable[[], Awaitable[None]]]:
    """The checkpoint store of a Kafka run, and what closes its client when the run ends.

    ``correlation.store``: ``sqlite`` (the file at ``path``, on this host) or ``kafka`` (the
    group's compacted changelog topic: members on different hosts share no file).
    """
    correlation = settings.correlation
    if correlation.store == "sqlite":

        async def nothing() -> None:
            return None

        return partial(SQLiteCheckpointStore, path, keep=correlation.checkpoints_kept), nothing
    from ingest.sources.changelog import KafkaChangelog, changelog_topic

    changelog = KafkaChangelog(
        bootstrap_servers=bootstrap_servers,
        topic=changelog_topic(group_id),
        **_kafka_options(settings.kafka),
    )
    return partial(ChangelogCheckpointStore, changelog), changelog.close
