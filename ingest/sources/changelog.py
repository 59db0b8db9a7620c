"""A changelog topic: keyed state kept in Kafka itself, last value per key wins.

Stream processors keep the state of a consumer group in a *compacted* topic of the broker
the group reads from, so the group's members need no shared disk: whoever is assigned a
partition reads the state of its key back. :class:`KafkaChangelog` is that topic: one
partition, ``cleanup.policy=compact``, values written with ``acks=all``; :meth:`read` reads
it from the beginning to its end and keeps the last value of each key. Brokers that do not
compact (Tansu keeps every record) give the same answer, only the read is longer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

__all__ = ["CHANGELOG_CONFIG", "KafkaChangelog", "changelog_topic"]

CHANGELOG_CONFIG: Final = {"cleanup.policy": "compact"}
"""Topic configuration of a changelog."""

_log = logging.getLogger("neakta.changelog")


def changelog_topic(group_id: str) -> str:
    """The changelog topic of a consumer group.

    >>> changelog_topic("neakta")
    'neakta.neakta.changelog'
    """
    return f"neakta.{group_id}.changelog"


class KafkaChangelog:
    """Write and read back the keyed state of one consumer group.

    Parameters
    ----------
    bootstrap_servers
        The brokers.
    topic
        The changelog topic (created, compacted, if it does not exist).
    options
        More client options (security, ``client_id``).
    """

    def __init__(self, *, bootstrap_servers: str, topic: str, **options: Any) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._options = options
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Create the topic if needed and start the producer."""
        if self._producer is not None:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self._options)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(self.topic, 1, 1, topic_configs=dict(CHANGELOG_CONFIG))]
            )
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, acks="all", **self._options
        )
        await producer.start()
        self._producer = producer

    async def write(self, values: Mapping[str, bytes]) -> None:
        """Write one value per key and wait until the broker acknowledged every one."""
        await self.start()
        producer = self._producer
        assert producer is not None
        sent = [
            await producer.send(self.topic, value, key=key.encode())
            for key, value in sorted(values.items())
        ]
        await asyncio.gather(*sent)

    async def read(self, *, timeout_s: float = 30.0) -> dict[str, bytes]:
        """Every key's last value, reading the topic from its start to its current end."""
        await self.start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._options,
        )
        await consumer.start()
        found: dict[str, bytes] = {}
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            position = await consumer.position(tp)
            async with asyncio.timeout(timeout_s):
                while position < end:
                    fetched = await consumer.getmany(tp, timeout_ms=500)
                    for record in fetched.get(tp, []):
                        if record.key is not None:
                            key = record.key.decode()
                            if record.value is None:
                                found.pop(key, None)
                            else:
                                found[key] = record.value
                    position = await consumer.position(tp)
        finally:
            await consumer.stop()
        _log.info("changelog %s read: %d keys", self.topic, len(found))
        return found

    async def close(self) -> None:
        """Stop the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
