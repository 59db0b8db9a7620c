"""The changelog topic on the real broker: last value per key, read back by a new client."""

from __future__ import annotations

import random

import pytest

from detect.correlation import ChangelogCheckpointStore
from ingest.sources import changelog
from ingest.sources.changelog import KafkaChangelog, changelog_topic
from tests.integration.conftest import Broker, create_topics, run, unique

pytestmark = pytest.mark.integration


async def write_then_read(bootstrap: str, topic: str) -> dict[str, bytes]:
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        await writer.write({"g/0": b"first", "g/1": b"one"})
        await writer.write({"g/0": b"second"})
    finally:
        await writer.close()
    reader = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        return await reader.read()
    finally:
        await reader.close()


def test_the_last_value_of_each_key_is_read_back(broker: Broker) -> None:
    topic = changelog_topic(unique("g"))
    assert run(write_then_read(broker.bootstrap, topic)) == {"g/0": b"second", "g/1": b"one"}


async def hand_over(bootstrap: str, topic: str) -> bytes | None:
    first = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    store = ChangelogCheckpointStore(first)
    store.save("g", "3", {("logs.web", 3): 40}, b"state at 40")
    store.save("g", "3", {("logs.web", 3): 90}, b"state at 90")
    await store.flush()
    await first.close()
    # Another member, on another host: nothing shared but the broker.
    second = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    other = ChangelogCheckpointStore(second)
    try:
        await other.load()
        point = other.restore_point("g", "3", {("logs.web", 3): 40})
    finally:
        await second.close()
    assert point is not None
    assert point.offsets == {("logs.web", 3): 90}
    return point.state


def test_a_checkpoint_is_handed_to_another_member_through_the_broker(broker: Broker) -> None:
    topic = changelog_topic(unique("g"))
    # Committed offsets behind the checkpoint (a crash before the commit): resume from it.
    assert run(hand_over(broker.bootstrap, topic)) == b"state at 90"


async def checkpoint_rounds(changelog: KafkaChangelog, rounds: int, slots: list[str]) -> None:
    """``rounds`` checkpoints of every slot, as a busy group writes them (one write a batch)."""
    for number in range(rounds):
        await changelog.write({f"g/{slot}": f"{slot} at {number}".encode() for slot in slots})


async def assignment_after_a_long_run(bootstrap: str, topic: str) -> tuple[dict[str, bytes], int]:
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        await checkpoint_rounds(writer, 250, ["0", "1", "2", "3"])
    finally:
        await writer.close()
    reader = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        found = await reader.read(["g/1", "g/2"])
    finally:
        await reader.close()
    return found, reader.records_read


def test_an_assignment_reads_back_the_last_records_not_the_whole_changelog(
    broker: Broker,
) -> None:
    topic = changelog_topic(unique("g"))
    found, records_read = run(assignment_after_a_long_run(broker.bootstrap, topic))
    assert found == {"g/1": b"1 at 249", "g/2": b"2 at 249"}
    # 1,000 records in the topic; both keys are among the last four: one first window of
    # 16 records (and the rest of the last batch, which the broker reports short).
    assert records_read <= 16 + 3


async def slot_never_checkpointed(bootstrap: str, topic: str) -> tuple[list[int], dict[str, bytes]]:
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    reader = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    reads = []
    try:
        await checkpoint_rounds(writer, 100, ["0"])
        assert await reader.read(["g/5"]) == {}
        reads.append(reader.records_read)
        await checkpoint_rounds(writer, 50, ["0"])
        assert await reader.read(["g/5"]) == {}
        reads.append(reader.records_read)
        everything = await reader.read()
    finally:
        await writer.close()
        await reader.close()
    return reads, everything


def test_a_slot_without_checkpoint_is_looked_for_in_the_whole_changelog_once(
    broker: Broker,
) -> None:
    topic = changelog_topic(unique("g"))
    reads, everything = run(slot_never_checkpointed(broker.bootstrap, topic))
    # The first read goes to the start and marks the slot absent up to there; the next
    # reads down to that mark only (51 records since, in windows of 16, 32 and 64).
    assert reads == [100, 112]
    # The absence marks are no values.
    assert everything == {"g/0": b"0 at 49"}


async def value_behind_a_mark(bootstrap: str, topic: str) -> dict[str, bytes]:
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    reader = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        await checkpoint_rounds(writer, 30, ["0"])
        # A member still holding slot 5 checkpoints it while another one, just assigned
        # it, finishes a read that found nothing up to offset 30 and marks it absent.
        await writer.write({"g/5": b"late"})
        await reader._mark_absent(["g/5"], 30)
        await checkpoint_rounds(writer, 40, ["0"])
        return await reader.read(["g/5"])
    finally:
        await writer.close()
        await reader.close()


def test_a_checkpoint_written_during_a_read_is_not_hidden_by_its_absence_mark(
    broker: Broker,
) -> None:
    topic = changelog_topic(unique("g"))
    assert run(value_behind_a_mark(broker.bootstrap, topic)) == {"g/5": b"late"}


async def store_assigned(bootstrap: str, topic: str) -> tuple[bytes | None, bool, int]:
    first = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    store = ChangelogCheckpointStore(first)
    for offset in range(1, 201):
        for slot in ("0", "1", "2"):
            store.save(
                "g", slot, {(f"logs.{slot}", int(slot)): offset}, f"{slot}@{offset}".encode()
            )
        await store.flush()
    await first.close()
    second = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    other = ChangelogCheckpointStore(second)
    try:
        await other.load("g", ["1"])
        point = other.restore_point("g", "1", {("logs.1", 1): 200})
        unassigned = other.restore_point("g", "2", {("logs.2", 2): 200})
    finally:
        await second.close()
    return (None if point is None else point.state), unassigned is None, second.records_read


def test_a_store_loads_the_assigned_slots_only(broker: Broker) -> None:
    topic = changelog_topic(unique("g"))
    state, unassigned_empty, records_read = run(store_assigned(broker.bootstrap, topic))
    assert state == b"1@200"
    assert unassigned_empty
    assert records_read <= 16 + 2


async def large_state(bootstrap: str, topic: str, state: bytes) -> dict[str, bytes]:
    # A changelog created before its record limit was raised: it is raised on start.
    await create_topics(bootstrap, [topic], partitions=1)
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        await writer.write({"g/0": state, "g/1": b"small"})
    finally:
        await writer.close()
    reader = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        return await reader.read(["g/0", "g/1"])
    finally:
        await reader.close()


def test_a_state_of_several_megabytes_is_written_and_read_back(broker: Broker) -> None:
    # Several thousand open incidents: above Kafka's default 1 MiB a record, and gzip
    # cannot shrink random text below it.
    state = random.Random(3).randbytes(3_000_000).hex().encode()
    topic = changelog_topic(unique("g"))
    assert run(large_state(broker.bootstrap, topic, state)) == {"g/0": state, "g/1": b"small"}


async def too_large(bootstrap: str, topic: str) -> None:
    writer = KafkaChangelog(bootstrap_servers=bootstrap, topic=topic)
    try:
        await writer.write({"g/0": b"x" * 4096})
    finally:
        await writer.close()


def test_a_state_above_the_limit_is_refused_with_its_key_and_size(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changelog, "MAX_VALUE_BYTES", 2048)
    with pytest.raises(ValueError, match=r"the state of g/0 \(0\.0 MiB\) is larger than"):
        run(too_large(broker.bootstrap, changelog_topic(unique("g"))))
