"""IIS lines read from Kafka stay readable in batches after the one with their #Fields line."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from ingest.sources.kafka import KafkaSource
from ingest.sources.parsing import parse_records

TOPIC = "logs.web.mef"
FIELDS = b"#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status"
LINE = b"2026-11-20 08:00:0{n} 10.0.0.{n} GET /login - 401"


def records(partition: int, start: int, *values: bytes) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(TOPIC, partition, start + n, 0, 0, None, value, None, -1, len(value), ())
        for n, value in enumerate(values)
    ]


def test_a_partitions_directive_is_carried_into_its_later_batches() -> None:
    source = KafkaSource(bootstrap_servers="unused:9092", topics=[TOPIC], group_id="g")
    p0, p1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    first = source._batch({p0: records(0, 0, FIELDS, LINE.replace(b"{n}", b"1"))})
    other = source._batch({p1: records(1, 0, LINE.replace(b"{n}", b"3"))})
    later = source._batch({p0: records(0, 2, LINE.replace(b"{n}", b"2"))})

    parsed_first = parse_records(first.records, year=2026)
    parsed_other = parse_records(other.records, year=2026)
    parsed_later = parse_records(later.records, year=2026)

    assert parsed_first.events["web"]["source.ip"].to_list() == ["10.0.0.1"]
    # Partition 1 never had a directive: its IIS line is a dead letter.
    assert parsed_other.dead.select("origin", "reason").rows() == [
        ("logs.web.mef/1/0", "unrecognized web format")
    ]
    # Partition 0's later line is read with the directive carried from its first batch.
    assert parsed_later.events["web"]["source.ip"].to_list() == ["10.0.0.2"]
    assert parsed_later.dead.height == 0
    # The batch's offsets are its own records', not the carried directive's.
    assert later.position == {p0: 3}
