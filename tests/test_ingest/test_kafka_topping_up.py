"""A batch topped up from later fetches holds each offset once, in order."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from ingest.sources.kafka import KafkaSource

TP = TopicPartition("logs.web", 0)


def records(*offsets: int) -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord(TP.topic, 0, o, 0, 0, None, b"GET /", None, -1, 5, ()) for o in offsets]


class Fetches:
    """A consumer whose ``getmany`` gives these fetches, then nothing."""

    def __init__(self, *fetches: list[ConsumerRecord[bytes, bytes]]) -> None:
        self.fetches = list(fetches)

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        return {TP: self.fetches.pop(0)} if self.fetches else {}

    def highwater(self, tp: TopicPartition) -> int:
        return 0


async def topped_up(*fetches: list[ConsumerRecord[bytes, bytes]]) -> list[int]:
    source = KafkaSource(bootstrap_servers="-", topics=[TP.topic], group_id="g", linger_ms=20)
    first, *later = fetches
    consumer: Any = Fetches(*later)
    merged = await source._linger(consumer, {TP: first}, 0)
    return [record.offset for record in merged[TP]]


async def test_later_fetches_are_added_after_the_first() -> None:
    assert await topped_up(records(0, 1, 2), records(3, 4), records(5)) == [0, 1, 2, 3, 4, 5]


async def test_records_fetched_again_after_a_seek_are_kept_once() -> None:
    # A fetch under way across a seek brings offsets this batch already holds.
    assert await topped_up(records(0, 1, 2), records(1, 2, 3), records(4)) == [0, 1, 2, 3, 4]
    assert await topped_up(records(0, 1, 2), records(2, 3)) == [0, 1, 2, 3]
    assert await topped_up(records(5, 6), records(2, 3, 4, 5, 6)) == [5, 6]
