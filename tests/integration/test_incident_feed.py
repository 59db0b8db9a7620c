"""The incident feed checkpoints its partitions at most every ``checkpoint_s`` under load.

A partition's state is saved whole, so saving it at every step costs more the more
incidents it holds. The offsets are committed with the checkpoint: between two, the
committed offset stays behind (a crash re-reads from there), and it catches up as soon as
a fetch brings nothing, and on close.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from detect.correlation import SQLiteCheckpointStore
from neakta.incident_feed import IncidentFeed
from respond.incidents import IncidentTracker
from respond.routing import fact_record
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
            await producer.send_and_wait(topic, fact_record(fact, 0), partition=0)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return (await consumer.committed(TopicPartition(topic, 0))) or 0
    finally:
        await consumer.stop()


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
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
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
