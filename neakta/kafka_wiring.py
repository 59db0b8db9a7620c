"""Build the parts of a Kafka run from settings: the consumer, its DLQ, the checkpoint store.

The consumer uses the range assignor, so partition p of every co-partitioned topic goes to
one process (one correlation slot per partition number); the checkpoint restores a
partition's correlation state when it is assigned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detect.correlation import ChangelogCheckpointStore, CheckpointStore, SQLiteCheckpointStore
from ingest.deadletter import DeadLetterSink, KafkaDeadLetters, start_producer
from ingest.sources import Source
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.incident_feed import IncidentFeed
from neakta.incident_route import IncidentRoute
from neakta.outputs import tracker_from_settings
from neakta.settings import KafkaSettings, Settings, reveal
from respond.routing import SourceMark, incident_topic

if TYPE_CHECKING:
    from neakta.pipeline import Pipeline

_log = logging.getLogger("neakta.run")

__all__ = [
    "IncidentRouting",
    "checkpoint_store",
    "consumer_options",
    "incident_routing",
    "kafka_source",
]


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


def consumer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """What the settings give the consumer beyond the source's own parameters.

    >>> consumer_options(KafkaSettings(session_timeout_ms=2000))
    {'session_timeout_ms': 2000, 'heartbeat_interval_ms': 3000, 'check_crcs': False}
    """
    return {
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": kafka.heartbeat_interval_ms,
        "check_crcs": kafka.check_crcs,
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
        **consumer_options(kafka),
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


@dataclass
class IncidentRouting:
    """Both halves of incident routing (:mod:`respond.routing`) and what closes them."""

    route: IncidentRoute
    feed: IncidentFeed
    close_store: Callable[[], Awaitable[None]]

    def attach(self, pipeline: Pipeline, stage: AlertStage) -> None:
        """Route the stage's alerts; after each committed batch, send marks and group.

        The facts go out as one more sink of the pipeline (before the commit); the
        incidents grouped here go to the pipeline's sinks.
        """
        slots = stage.slots
        assert slots is not None
        stage.route = True
        pipeline.sinks.append(self.route)

        async def after_batch(pipeline: Pipeline, marks: dict[int, SourceMark]) -> None:
            await self.route.publish(marks)
            if await self.feed.step(pipeline.write_sinks):
                pipeline.last_batch = time.monotonic()

        # The marks as each batch left the slots, taken as it is detected: the next batch
        # is detected while this one is delivered (see neakta.pipeline).
        pipeline.after_detect = partial(self.route.marks, slots)
        pipeline.after_batch = after_batch
        _log.info(
            "incidents grouped by key: topic %s, %d partitions, %d source slots",
            self.route.topic,
            self.route.partitions,
            self.route.sources,
        )

    async def close(self) -> None:
        """Leave the incident group, stop the producer, close the checkpoint store."""
        await self.feed.close()
        await self.route.close()
        self.feed.store.close()
        await self.close_store()


async def _partition_count(producer: Any, topic: str) -> int:
    from aiokafka.errors import KafkaError

    try:
        return len(await asyncio.wait_for(producer.partitions_for(topic), 10) or ())
    except (KafkaError, TimeoutError):
        return 0


async def incident_routing(
    settings: Settings,
    *,
    bootstrap_servers: str,
    topics: Sequence[str],
    group_id: str,
    path: Path,
) -> IncidentRouting:
    """The incident topic (created if needed), its sender and its consumer-group member.

    The topic has ``kafka.incident_partitions`` partitions (0: as many as the input topic
    with the most); its group is ``<group_id>.incidents``, checkpointed where the run's
    correlation state is (``path`` for SQLite).
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    kafka = settings.kafka
    options = _kafka_options(kafka)
    producer, _ = await start_producer(
        bootstrap_servers=bootstrap_servers, idempotence=kafka.dlq_idempotence, **options
    )
    sources = max([await _partition_count(producer, topic) for topic in topics] + [1])
    topic = incident_topic(group_id)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **options)
    await admin.start()
    try:
        wanted = kafka.incident_partitions or sources
        await admin.create_topics([NewTopic(topic, wanted, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    partitions = await _partition_count(producer, topic) or 1
    feed_group = f"{group_id}.incidents"
    store, close_store = checkpoint_store(
        settings, bootstrap_servers=bootstrap_servers, group_id=feed_group, path=path
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=feed_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        **options,
    )
    feed = IncidentFeed(
        consumer,
        topic,
        feed_group,
        tracker_from_settings(settings.respond),
        store(),
        checkpoint_s=kafka.incident_checkpoint_s,
    )
    await feed.start()
    route = IncidentRoute(producer, topic, partitions, sources)
    return IncidentRouting(route, feed, close_store)
