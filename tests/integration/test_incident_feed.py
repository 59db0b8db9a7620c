"""The incident feed checkpoints its partitions at most every ``checkpoint_s`` under load.

A partition's state is saved whole, so saving it at every step costs more the more
incidents it holds. The offsets are committed with the checkpoint: between two, the
committed offset stays behind (a crash re-reads from there), and it catches up as soon as
a fetch brings nothing, and on close.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from detect.correlation import ChangelogCheckpointStore, CheckpointError, SQLiteCheckpointStore
from ingest.sources.changelog import KafkaChangelog, changelog_topic
from ingest.sources.kafka import AssignmentTimeoutError
from neakta.incident_feed import IncidentFeed
from respond.incidents import IncidentTracker
from respond.routing import fact_records
from respond.sinks import SinkBatch
from tests.integration.conftest import Broker, create_topics, run, unique

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 8, tzinfo=UTC)


async def produce_facts(bootstrap: str, topic: str, first: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(first, first + count):
            fact = {"id": f"a{n}", "time": START + timedelta(minutes=n), "key": ("", "r", f"h{n}")}
            await producer.send_and_wait(topic, fact_records([fact], 0)[0], partition=0)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return (await consumer.committed(TopicPartition(topic, 0))) or 0
    finally:
        await consumer.stop()


def member_consumer(
    bootstrap: str, group: str, kind: type[AIOKafkaConsumer] = AIOKafkaConsumer
) -> AIOKafkaConsumer:
    """A consumer of the incident group as the feed wants it (auto commit off, quick group)."""
    return kind(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )


async def steps_until(feed: IncidentFeed, records: int) -> None:
    async def deliver(batch: SinkBatch) -> None:
        del batch

    for _ in range(300):
        if feed.records >= records:
            return
        if not await feed.step(deliver, timeout_ms=100):
            await asyncio.sleep(0.05)  # joining the group, or nothing fetched yet
    raise AssertionError(f"the feed took {feed.records} records of {records}")


async def scenario(bootstrap: str, store: Path, checkpoint_s: float) -> list[int]:
    topic, group = unique("incidents"), unique("g")
    await create_topics(bootstrap, [topic], partitions=1)
    consumer = member_consumer(bootstrap, group)
    tracker = IncidentTracker()
    feed = IncidentFeed(
        consumer, topic, group, tracker, SQLiteCheckpointStore(store), checkpoint_s=checkpoint_s
    )
    await feed.start()
    seen = []
    try:
        await produce_facts(bootstrap, topic, 0, 3)
        await steps_until(feed, 3)  # one step takes the three
        seen.append(await committed(bootstrap, group, topic))
        await feed.step(lambda batch: _nothing(), timeout_ms=100)  # caught up
        seen.append(await committed(bootstrap, group, topic))
        await produce_facts(bootstrap, topic, 3, 1)
        await steps_until(feed, 4)
    finally:
        await feed.close()
    seen.append(await committed(bootstrap, group, topic))  # saved on close
    return seen


async def _nothing() -> None:
    return None


@pytest.mark.parametrize(("checkpoint_s", "expected"), [(3600, [0, 3, 4]), (0, [3, 3, 4])])
def test_offsets_are_committed_with_the_checkpoints_when_due_caught_up_and_on_close(
    broker: Broker, tmp_path: Path, checkpoint_s: float, expected: list[int]
) -> None:
    store = tmp_path / "checkpoints.sqlite"
    assert run(scenario(broker.bootstrap, store, checkpoint_s)) == expected


class NeverAnswers(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer whose committed offsets never come back (a broker that never answers)."""

    async def committed(self, partition: TopicPartition) -> int | None:
        await asyncio.Event().wait()
        return None


class BrokenStore(SQLiteCheckpointStore):
    def restore_point(self, *args: object, **kwargs: object) -> None:
        raise CheckpointError("checkpoint store locked")


async def failed_assignment(bootstrap: str, store: Path, *, hangs: bool) -> None:
    topic, group = unique("incidents"), unique("g")
    await create_topics(bootstrap, [topic], partitions=1)
    await produce_facts(bootstrap, topic, 0, 1)
    kind = NeverAnswers if hangs else AIOKafkaConsumer
    consumer = member_consumer(bootstrap, group, kind)
    checkpoints = BrokenStore(store) if not hangs else SQLiteCheckpointStore(store)
    feed = IncidentFeed(consumer, topic, group, IncidentTracker(), checkpoints)
    await feed.start()
    try:
        await steps_until(feed, 1)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("hangs", "message"),
    [(False, "checkpoint store locked"), (True, "did not come back within 1 s")],
)
def test_an_assignment_that_fails_or_never_ends_stops_the_feed_with_its_reason(
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hangs: bool,
    message: str,
) -> None:
    monkeypatch.setattr("ingest.sources.kafka.ASSIGN_TIMEOUT_S", 1.0)
    store = tmp_path / "checkpoints.sqlite"
    with pytest.raises((CheckpointError, AssignmentTimeoutError), match=message):
        run(failed_assignment(broker.bootstrap, store, hangs=hangs))


class CommitLost(IncidentFeed):
    """Its commits never reach the broker (killed between the checkpoint and the commit)."""

    async def _commit(self, offsets: dict[Any, int]) -> None:
        del offsets


async def lost_commit(bootstrap: str) -> tuple[int, int]:
    """A feed checkpoints to the changelog; its commit is then lost; the next owner's commit.

    Returns the committed offset after the loss and after the next owner's assignment.
    """
    topic, group = unique("incidents"), unique("g")
    await create_topics(bootstrap, [topic], partitions=1)
    await produce_facts(bootstrap, topic, 0, 2)

    changelogs: list[KafkaChangelog] = []

    def member(kind: type[IncidentFeed] = IncidentFeed) -> IncidentFeed:
        consumer = member_consumer(bootstrap, group)
        changelog = KafkaChangelog(bootstrap_servers=bootstrap, topic=changelog_topic(group))
        changelogs.append(changelog)
        return kind(consumer, topic, group, IncidentTracker(), ChangelogCheckpointStore(changelog))

    try:
        first = member(CommitLost)
        await first.start()
        await steps_until(first, 2)
        await first.close()  # checkpoint (state at offset 2), its commit lost
        lost = await committed(bootstrap, group, topic)
        second = member()
        await second.start()
        try:
            # Its assignment alone (no step, which would read and commit on its own).
            now, deadline = lost, time.monotonic() + 30
            while now == lost and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                now = await committed(bootstrap, group, topic)
            return lost, now
        finally:
            await second.consumer.stop()
    finally:
        for changelog in changelogs:
            await changelog.close()


def test_a_checkpoint_past_the_committed_offset_is_committed_on_assignment(
    broker: Broker,
) -> None:
    assert run(lost_commit(broker.bootstrap)) == (0, 2)
