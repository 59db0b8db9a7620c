"""The incident route sends a batch's facts, many batches' worth, each in order to its partition."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from neakta.incident_route import IncidentRoute
from respond.routing import incident_partition, read_record
from respond.sinks import SinkBatch
from tests.integration.conftest import Broker, create_topics, run, unique

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 8, tzinfo=UTC)
FACTS = 3_000  # about 300 bytes each: several producer batches (16 KiB) per partition


async def scenario(bootstrap: str) -> dict[int, list[tuple[bytes, str, int]]]:
    topic = unique("incidents")
    await create_topics(bootstrap, [topic], partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    route = IncidentRoute(producer, topic, partitions=3, sources=2)
    route.add(
        {
            "id": f"a{n}",
            "time": START + timedelta(seconds=n),
            "key": ("mef", "r1", f"host{n % 40}"),
            "slot": n % 2,
            "title": "x" * 200,
        }
        for n in range(FACTS)
    )
    try:
        await route.write(SinkBatch())
    finally:
        await route.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[int, list[tuple[bytes, str, int]]] = defaultdict(list)
    try:
        for _ in range(100):
            for part, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    fact = read_record(record.value)
                    assert isinstance(fact, dict)
                    found[part.partition].append((record.key, fact["id"], fact["source"]))
            if sum(map(len, found.values())) >= FACTS:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
    return found


def test_every_fact_reaches_its_key_partition_in_order(broker: Broker) -> None:
    found = run(scenario(broker.bootstrap))
    expected: dict[int, list[tuple[bytes, str, int]]] = defaultdict(list)
    for n in range(FACTS):
        key = ("mef", "r1", f"host{n % 40}")
        expected[incident_partition(key, 3)].append(("\x00".join(key).encode(), f"a{n}", n % 2))
    assert dict(found) == dict(expected)
    assert all(len(records) > 100 for records in found.values())  # several batches each
