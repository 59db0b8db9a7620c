"""The incident route sends a batch's facts packed, each in order to its key's partition."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from neakta.incident_route import IncidentRoute
from respond.routing import MAX_RECORD_BYTES, incident_partition, read_record
from respond.sinks import SinkBatch
from tests.integration.conftest import Broker, create_topics, run, unique

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 8, tzinfo=UTC)
FACTS = 3_000  # about 1.1 KB each: several records of packed facts per partition and slot


async def scenario(bootstrap: str) -> tuple[dict[int, list[tuple[str, int]]], dict[int, int]]:
    topic = unique("incidents")
    await create_topics(bootstrap, [topic], partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    route = IncidentRoute(producer, topic, partitions=3, sources=2)
    facts = tuple(
        {
            "id": f"a{n}",
            "time": START + timedelta(seconds=n),
            "key": ("mef", "r1", f"host{n % 40}"),
            "slot": n % 2,
            "title": "x" * 1_000,
        }
        for n in range(FACTS)
    )
    try:
        await route.write(SinkBatch(facts=facts))
    finally:
        await route.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    records_of: dict[int, int] = defaultdict(int)
    try:
        for _ in range(100):
            for part, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    assert len(record.value) <= MAX_RECORD_BYTES
                    read = read_record(record.value)
                    assert isinstance(read, list)
                    found[part.partition].extend((fact["id"], fact["source"]) for fact in read)
                    records_of[part.partition] += 1
            if sum(map(len, found.values())) >= FACTS:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
    return found, records_of


def test_every_fact_reaches_its_key_partition_in_order_packed(broker: Broker) -> None:
    found, records_of = run(scenario(broker.bootstrap))
    expected: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for n in range(FACTS):
        key = ("mef", "r1", f"host{n % 40}")
        expected[incident_partition(key, 3)].append((f"a{n}", n % 2))
    # In order within each partition and source slot; the slots' packs one after the other.
    for partition, facts in expected.items():
        got = found[partition]
        assert sorted(got) == sorted(facts)
        for source in (0, 1):
            assert [f for f in got if f[1] == source] == [f for f in facts if f[1] == source]
    # A few records per partition and slot, not one per alert.
    assert all(2 < count <= 10 for count in records_of.values()), dict(records_of)
