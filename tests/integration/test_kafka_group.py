"""Two consumers in one group split the partitions; a rebalance waits for the batch in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ingest.sources import SourceBatch
from ingest.sources.kafka import AssignmentTimeoutError, KafkaSource
from ingest.testing import ListDeadLetters
from neakta.pipeline import Pipeline
from neakta.rulesets import compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.sinks import Delivery, SinkBatch
from tests.integration.conftest import Broker, committed, create_topics, produce, unique

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "data" / "sample_endpoint.ndjson"
LINES = SAMPLE.read_bytes().splitlines()[:1200]


class SlowSink:
    """Holds every batch for a while, so a rebalance finds a batch in flight."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.alerts: list[str] = []

    async def write(self, batch: SinkBatch) -> Delivery:
        await asyncio.sleep(self.pause)
        self.alerts.extend(batch.alerts["_id"].to_list())
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


EVERY_PROCESS = """
title: Any Process
id: 0c7d4e9a-5b61-4f0e-8a3d-2e9f1b6c7a10
logsource: {category: process_creation, product: windows}
detection: {selection: {Image|contains: '.exe'}, condition: selection}
level: low
"""


def member(
    broker: Broker, topic: str, group: str, pause: float, rules: Path = DEFAULT_RULES
) -> tuple[KafkaSource, Pipeline, SlowSink]:
    stop = asyncio.Event()
    source = KafkaSource(
        bootstrap_servers=broker.bootstrap,
        topics=[topic],
        group_id=group,
        max_records=100,
        timeout_ms=100,
        stop=stop,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    sink = SlowSink(pause)
    rulesets = compile_rulesets([rules], families=("endpoint",))
    pipeline = Pipeline(rulesets, sinks=[sink], dead_letters=ListDeadLetters(), stop=stop)
    return source, pipeline, sink


async def test_two_members_split_partitions_and_never_process_a_record_twice(
    broker: Broker, tmp_path: Path
) -> None:
    topic = f"logs.endpoint.{unique('m')}"
    group = unique("g")
    await create_topics(broker.bootstrap, [topic], partitions=2)
    await produce(broker.bootstrap, topic, LINES, partitions=2)
    # Every batch raises alerts, so every batch waits on the slow sink: the first member
    # cannot finish the topic alone before the second has joined.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "every_process.yml").write_text(EVERY_PROCESS)
    first_source, first, first_sink = member(broker, topic, group, pause=0.3, rules=rules)
    second_source, second, second_sink = member(broker, topic, group, pause=0.3, rules=rules)
    first_run = asyncio.create_task(first.run(first_source))
    # Join while the first member has a batch in flight (its sink is slow).
    while first.stats.batches == 0:
        await asyncio.sleep(0.01)
    second_run = asyncio.create_task(second.run(second_source))

    async def until_done() -> None:
        while first.stats.records + second.stats.records < len(LINES):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(until_done(), 30)
    first.stop.set()
    second.stop.set()
    await asyncio.gather(first_run, second_run)
    await first_source.close()
    await second_source.close()

    # Each record was processed exactly once over both members: the first member's batch
    # in flight at the rebalance was committed before its partition changed hands.
    assert first.stats.records + second.stats.records == len(LINES)
    assert first.stats.records > 0
    assert second.stats.records > 0
    assert len(first_sink.alerts) + len(second_sink.alerts) == len(
        set(first_sink.alerts) | set(second_sink.alerts)
    )
    assert await committed(broker.bootstrap, group, topic, 2) == {0: 600, 1: 600}


async def next_batch(batches: AsyncGenerator[SourceBatch, None]) -> SourceBatch:
    return await anext(batches)


def source(broker: Broker, topic: str, group: str, **options: Any) -> KafkaSource:
    return KafkaSource(
        bootstrap_servers=broker.bootstrap,
        topics=[topic],
        group_id=group,
        timeout_ms=100,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
        **{"max_records": 10, **options},
    )


async def filled_topic(broker: Broker) -> tuple[str, str]:
    """A topic of two partitions holding 100 endpoint lines, and a new group's id."""
    topic = f"logs.endpoint.{unique('m')}"
    await create_topics(broker.bootstrap, [topic], partitions=2)
    await produce(broker.bootstrap, topic, LINES[:100], partitions=2)
    return topic, unique("g")


def starts_after(batch: SourceBatch, position: Mapping[Any, int]) -> bool:
    """Whether every record of ``batch`` lies at or past ``position`` in its partition."""
    done = {f"{tp.topic}/{tp.partition}": offset for tp, offset in position.items()}
    origins = (origin.rsplit("/", 1) for origin in batch.records["origin"].to_list())
    return all(int(offset) >= done.get(partition, 0) for partition, offset in origins)


async def leave(member: KafkaSource, batches: AsyncGenerator[SourceBatch, None]) -> None:
    member.stop.set()
    await batches.aclose()
    await member.close()


async def test_a_joining_member_waits_until_the_batch_in_flight_is_committed(
    broker: Broker,
) -> None:
    topic, group = await filled_topic(broker)
    first, second = source(broker, topic, group), source(broker, topic, group)
    first_batches = first.batches()
    in_flight = await anext(first_batches)
    second_batches = second.batches()
    second_first = asyncio.create_task(next_batch(second_batches))
    # The rebalance the second member asked for cannot finish: the first member's
    # on_partitions_revoked waits for its batch in flight.
    done, _ = await asyncio.wait([second_first], timeout=3)
    assert not done
    await first.commit(in_flight)
    # The first member keeps polling (and so finishes its part of the rebalance).
    keep_polling = asyncio.create_task(next_batch(first_batches))
    batch = await asyncio.wait_for(second_first, 15)
    # What the second member reads starts after what the first committed: nothing twice.
    assert starts_after(batch, in_flight.position)
    keep_polling.cancel()
    await leave(first, first_batches)
    await leave(second, second_batches)


async def test_a_rebalance_waits_for_every_batch_in_flight_when_reading_ahead(
    broker: Broker,
) -> None:
    topic, group = await filled_topic(broker)
    first, second = source(broker, topic, group), source(broker, topic, group)
    first_batches = first.batches()
    # Read ahead: the next batch is taken before the one in hand is committed.
    in_hand = await anext(first_batches)
    ahead = await anext(first_batches)
    second_batches = second.batches()
    second_first = asyncio.create_task(next_batch(second_batches))
    done, _ = await asyncio.wait([second_first], timeout=3)
    assert not done
    await first.commit(in_hand)
    # One batch is still in flight: the rebalance still waits.
    done, _ = await asyncio.wait([second_first], timeout=3)
    assert not done
    await first.commit(ahead)
    keep_polling = asyncio.create_task(next_batch(first_batches))
    batch = await asyncio.wait_for(second_first, 15)
    assert starts_after(batch, in_hand.position | ahead.position)
    keep_polling.cancel()
    await leave(first, first_batches)
    await leave(second, second_batches)


async def test_an_assignment_that_never_restores_ends_the_member_and_frees_its_partitions(
    broker: Broker,
) -> None:
    topic, group = await filled_topic(broker)
    never = asyncio.Event()

    async def restore_forever(committed: dict[Any, int | None]) -> dict[Any, int]:
        await never.wait()  # a state store that never answers
        return {}

    stuck = source(broker, topic, group, on_assigned=restore_forever, assign_timeout_s=1.0)
    stuck_batches = stuck.batches()
    with pytest.raises(AssignmentTimeoutError, match="did not come back within 1 s"):
        await asyncio.wait_for(anext(stuck_batches), 30)
    await leave(stuck, stuck_batches)
    # It left the group: another member reads every record.
    other = source(broker, topic, group)
    other_batches = other.batches()
    seen = 0
    while seen < 100:
        batch = await asyncio.wait_for(anext(other_batches), 30)
        seen += batch.records.height
        await other.commit(batch)
    assert seen == 100
    await leave(other, other_batches)


async def test_state_restored_past_the_committed_offsets_commits_them_at_once(
    broker: Broker,
) -> None:
    # A checkpoint written after the last batch's alerts were delivered, and the commit of
    # that batch lost (a kill, or a rebalance that failed it): the new owner resumes at the
    # checkpoint, at the partition's end, and no later batch would ever commit there.
    topic, group = await filled_topic(broker)

    async def restore_at_the_end(committed: dict[Any, int | None]) -> dict[Any, int]:
        assert set(committed.values()) == {None}
        return {(topic, 0): 50, (topic, 1): 50}

    member = source(broker, topic, group, on_assigned=restore_at_the_end, ticks=True)
    batches = member.batches()
    try:
        while not member.assigned:
            await member.commit(await asyncio.wait_for(anext(batches), 30))
        batch = await asyncio.wait_for(anext(batches), 30)
        assert batch.records.height == 0  # nothing past the checkpoint
        await member.commit(batch)
        assert await committed(broker.bootstrap, group, topic, 2) == {0: 50, 1: 50}
    finally:
        await leave(member, batches)
