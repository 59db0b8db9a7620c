"""A Kafka batch's columns: offsets with and without gaps, headers only where present."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import polars as pl
import pytest
from aiokafka.structs import ConsumerRecord

from ingest.sources import SourceBatch
from ingest.sources.kafka import KafkaSource, records_frame
from tests.integration.conftest import Broker, create_topics, produce, unique


def record(
    offset: int, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "logs.web.mef", 2, offset, 0, 0, None, value, None, -1, len(value), tuple(headers)
    )


def test_offsets_of_a_gap_free_partition_become_origins() -> None:
    frame = records_frame(
        "logs.web.mef",
        2,
        [record(5, b"a"), record(6, b"b"), record(7, b"c")],
        family="web",
        ministry="mef",
    )
    assert frame.rows() == [
        ("web", "logs.web.mef", "logs.web.mef/2/5", b"a", None, "mef"),
        ("web", "logs.web.mef", "logs.web.mef/2/6", b"b", None, "mef"),
        ("web", "logs.web.mef", "logs.web.mef/2/7", b"c", None, "mef"),
    ]
    assert frame.schema == pl.Schema(
        {
            "family": pl.String,
            "source": pl.String,
            "origin": pl.String,
            "raw": pl.Binary,
            "header_organization": pl.String,
            "source_organization": pl.String,
        }
    )


def test_offsets_with_a_gap_keep_their_own_numbers() -> None:
    # A compacted topic: offsets 4 to 8 are gone, yet three records span 0..9.
    frame = records_frame(
        "logs.web.mef",
        2,
        [record(0, b"a"), record(3, b"b"), record(9, b"c")],
        family=None,
        ministry=None,
    )
    assert frame["origin"].to_list() == ["logs.web.mef/2/0", "logs.web.mef/2/3", "logs.web.mef/2/9"]
    assert frame["family"].to_list() == [None, None, None]


def test_only_records_with_the_header_name_an_organization() -> None:
    frame = records_frame(
        "logs.web.mef",
        2,
        [
            record(0, b"a", [("trace", b"x"), ("organization.id", b"mi")]),
            record(1, b"b"),
            record(2, b"c", [("organization.id", b"")]),
            record(3, b"d", [("organization.id", b"\xffmef")]),
        ],
        family="web",
        ministry=None,
    )
    assert frame["header_organization"].to_list() == ["mi", None, None, "\ufffdmef"]


def source(
    broker: Broker, topic: str, *, fetcher_steps: int, max_records: int = 1000, linger_ms: int = 200
) -> KafkaSource:
    return KafkaSource(
        bootstrap_servers=broker.bootstrap,
        topics=[topic],
        group_id=unique("g"),
        max_records=max_records,
        linger_ms=linger_ms,
        timeout_ms=100,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
        fetcher_steps=fetcher_steps,
    )


async def read(kafka: KafkaSource, count: int) -> list[SourceBatch]:
    found: list[SourceBatch] = []
    batches = kafka.batches()
    try:
        while sum(batch.size for batch in found) < count:
            batch = await asyncio.wait_for(anext(batches), 15)
            await kafka.commit(batch)
            found.append(batch)
    finally:
        await batches.aclose()
        await kafka.close()
    return found


@pytest.mark.integration
@pytest.mark.parametrize("fetcher_steps", [0, 4])
async def test_batches_carry_every_record_once_with_its_header_and_position(
    broker: Broker, fetcher_steps: int
) -> None:
    topic = f"logs.web.{unique('m')}"
    await create_topics(broker.bootstrap, [topic], partitions=1)
    plain = [f"GET /{n}".encode() for n in range(300)]
    await produce(broker.bootstrap, topic, plain[:150], partitions=1)
    await produce(
        broker.bootstrap, topic, plain[150:], partitions=1, headers=[("organization.id", b"mi")]
    )

    batches = await read(source(broker, topic, fetcher_steps=fetcher_steps), len(plain))

    records = pl.concat([batch.records for batch in batches])
    assert records["line"].to_list() == [value.decode() for value in plain]
    assert records["origin"].to_list() == [f"{topic}/0/{n}" for n in range(300)]
    assert records["header_organization"].to_list() == [None] * 150 + ["mi"] * 150
    assert set(records["source_organization"].to_list()) == {topic.rsplit(".", 1)[1]}
    positions = [offset for batch in batches for offset in batch.position.values()]
    assert positions == sorted(positions)
    assert positions[-1] == 300
    # Its records are not processed yet: the partition holds the watermark, even when
    # the batch read it to its end.
    assert [batch.busy for batch in batches] == [(f"{topic}/0",)] * len(batches)


@pytest.mark.integration
async def test_a_batch_fetches_again_until_it_holds_max_records(broker: Broker) -> None:
    topic = f"logs.web.{unique('m')}"
    await create_topics(broker.bootstrap, [topic], partitions=1)
    plain = [f"GET /{n}".encode() for n in range(400)]
    await produce(broker.bootstrap, topic, plain[:100], partitions=1)
    kafka = source(broker, topic, fetcher_steps=4, max_records=400, linger_ms=10_000)

    async def later() -> None:
        while not kafka.assigned:  # the first fetch finds the first 100 only
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        await produce(broker.bootstrap, topic, plain[100:], partitions=1)

    producing = asyncio.create_task(later())
    batches = await read(kafka, len(plain))
    await producing

    assert [batch.size for batch in batches] == [400]
    assert batches[0].records["origin"].to_list() == [f"{topic}/0/{n}" for n in range(400)]


@pytest.mark.integration
async def test_a_caught_up_batch_is_handed_out_while_the_one_before_is_in_flight(
    broker: Broker,
) -> None:
    topic = f"logs.web.{unique('m')}"
    await create_topics(broker.bootstrap, [topic], partitions=1)
    await produce(broker.bootstrap, topic, [f"GET /{n}".encode() for n in range(100)], partitions=1)
    kafka = source(broker, topic, fetcher_steps=4, max_records=1000)
    batches = kafka.batches()
    try:
        first = await asyncio.wait_for(anext(batches), 15)
        await produce(
            broker.bootstrap, topic, [f"GET /{n}".encode() for n in range(100, 150)], partitions=1
        )
        # The first batch is not committed: the second is still handed out, since
        # nothing more is there to read, and so can be parsed meanwhile.
        second = await asyncio.wait_for(anext(batches), 5)
        await kafka.commit(first)
        await kafka.commit(second)
    finally:
        await batches.aclose()
        await kafka.close()
    assert first.size == 100
    assert second.records["origin"].to_list() == [f"{topic}/0/{n}" for n in range(100, 150)]
