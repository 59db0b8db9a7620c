"""The changelog topic on the real broker: last value per key, read back by a new client."""

from __future__ import annotations

import pytest

from detect.correlation import ChangelogCheckpointStore
from ingest.sources.changelog import KafkaChangelog, changelog_topic
from tests.integration.conftest import Broker, run, unique

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
