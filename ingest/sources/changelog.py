"""A changelog topic: keyed state kept in Kafka itself, last value per key wins.

Stream processors keep the state of a consumer group in a *compacted* topic of the broker
the group reads from, so the group's members need no shared disk: whoever is assigned a
partition reads the state of its key back. :class:`KafkaChangelog` is that topic: one
partition, ``cleanup.policy=compact``, values written gzip-compressed with ``acks=all``.

Reading it back is bounded by what the reader needs, not by the topic's length (a broker
that does not compact, such as Tansu, keeps every record ever written, and a day of
checkpoints is hundreds of MB). :meth:`KafkaChangelog.read` with ``keys`` reads *backwards*
from the end, in windows that double, and stops once every key's latest value is found: a
member assigned some partitions reads back about as many records as were written since
those partitions' last checkpoints. A key that has no value at all would make that read go
to the start of the topic; so the read then writes an *absence marker* for it, a record
under that key whose ``neakta-absent-before`` header says "no value before offset E" (E:
the end the read started from). A later read that meets the marker scans on down to E only,
and a value written after E (by a member that still held the key) is found on the way, so
the marker never hides one. Markers are never returned as values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError

__all__ = [
    "ABSENT_HEADER",
    "CHANGELOG_CONFIG",
    "MAX_VALUE_BYTES",
    "KafkaChangelog",
    "changelog_topic",
]

MAX_VALUE_BYTES: Final = 256 << 20
"""Largest value (one slot's state, before compression) a changelog takes.

A slot's state grows with what it holds (open incidents, correlation windows): Kafka's
default of 1 MiB per record is a few thousand incidents.
"""

CHANGELOG_CONFIG: Final = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_VALUE_BYTES)}
"""Topic configuration of a changelog (set again on a topic created before)."""

ABSENT_HEADER: Final = "neakta-absent-before"
"""Header of an absence marker: the key has no value before this offset (decimal)."""

_FIRST_WINDOW: Final = 16
_log = logging.getLogger("neakta.changelog")


def changelog_topic(group_id: str) -> str:
    """The changelog topic of a consumer group.

    >>> changelog_topic("neakta")
    'neakta.neakta.changelog'
    """
    return f"neakta.{group_id}.changelog"


def _absent_before(record: Any) -> int | None:
    """The offset an absence marker vouches for; None for a value."""
    for name, value in record.headers or ():
        if name == ABSENT_HEADER:
            return int(value)
    return None


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

    Attributes
    ----------
    records_read
        How many records the last :meth:`read` fetched (what bounds its time).
    """

    def __init__(self, *, bootstrap_servers: str, topic: str, **options: Any) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._options = options
        self._producer: AIOKafkaProducer | None = None
        self.records_read = 0

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
            await self._configure(admin)
        finally:
            await admin.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            compression_type="gzip",
            max_request_size=MAX_VALUE_BYTES,
            **self._options,
        )
        await producer.start()
        self._producer = producer

    async def _configure(self, admin: AIOKafkaAdminClient) -> None:
        """Give a changelog created before :data:`CHANGELOG_CONFIG` grew its record limit.

        A broker that refuses (or cannot change topic configuration) keeps its own limit:
        the write of a state above it then fails with a message saying so.
        """
        resource = ConfigResource(ConfigResourceType.TOPIC, self.topic, dict(CHANGELOG_CONFIG))
        try:
            responses = await admin.alter_configs([resource])
        except (KafkaError, OSError) as error:
            _log.warning("changelog %s keeps its configuration: %s", self.topic, error)
            return
        for response in responses:
            for code, message, *_ in getattr(response, "resources", ()):
                if code:
                    _log.warning("changelog %s keeps its configuration: %s", self.topic, message)

    async def write(self, values: Mapping[str, bytes]) -> None:
        """Write one value per key and wait until the broker acknowledged every one.

        Raises
        ------
        ValueError
            A value is larger than :data:`MAX_VALUE_BYTES`, or than the broker takes.
        """
        await self.start()
        producer = self._producer
        assert producer is not None
        try:
            sent = [
                await producer.send(self.topic, value, key=key.encode())
                for key, value in sorted(values.items())
            ]
            await asyncio.gather(*sent)
        except MessageSizeTooLargeError as error:
            largest = max(values, key=lambda key: len(values[key]))
            raise ValueError(
                f"changelog {self.topic}: the state of {largest} "
                f"({len(values[largest]) / 2**20:.1f} MiB) is larger than the topic takes "
                f"(max.message.bytes, at most {MAX_VALUE_BYTES >> 20} MiB): {error}"
            ) from error

    async def _mark_absent(self, keys: Collection[str], end: int) -> None:
        """Write absence markers: none of ``keys`` has a value before offset ``end``."""
        await self.start()
        producer = self._producer
        assert producer is not None
        headers = [(ABSENT_HEADER, str(end).encode())]
        sent = [
            await producer.send(self.topic, b"", key=key.encode(), headers=headers)
            for key in sorted(keys)
        ]
        await asyncio.gather(*sent)

    async def read(
        self, keys: Collection[str] | None = None, *, timeout_s: float = 30.0
    ) -> dict[str, bytes]:
        """The last value of each of ``keys`` that has one (None: of every key).

        With ``keys``, the topic is read backwards from its current end until each key's
        last value (or its absence) is known; keys found to have no value are marked so
        (see the module notes). Without, it is read from its start to its end.
        """
        await self.start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._options,
        )
        await consumer.start()
        self.records_read = 0
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            begin = (await consumer.beginning_offsets([tp]))[tp]
            async with asyncio.timeout(timeout_s):
                if keys is None:
                    found = self._latest(await self._window(consumer, tp, begin, end, last=True))
                    absent: set[str] = set()
                else:
                    found, absent = await self._backwards(consumer, tp, set(keys), begin, end)
        finally:
            await consumer.stop()
        if absent:
            await self._mark_absent(absent, end)
        _log.info(
            "changelog %s read: %d keys from %d records", self.topic, len(found), self.records_read
        )
        return found

    @staticmethod
    def _latest(records: list[Any]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for record in records:
            if record.key is None:
                continue
            key = record.key.decode()
            if record.value is None or _absent_before(record) is not None:
                found.pop(key, None)
            else:
                found[key] = record.value
        return found

    async def _backwards(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, keys: set[str], begin: int, end: int
    ) -> tuple[dict[str, bytes], set[str]]:
        """Windows from the end down until every key is settled: (values, keys without)."""
        found: dict[str, bytes] = {}
        absent: set[str] = set()
        # Keys met as absence markers: settled as absent once read down to that offset.
        floors: dict[str, int] = {}
        open_keys = set(keys)
        high, window = end, max(_FIRST_WINDOW, 4 * len(keys))
        while open_keys and high > begin:
            low = max(begin, high - window)
            for record in reversed(await self._window(consumer, tp, low, high, last=high == end)):
                key = None if record.key is None else record.key.decode()
                if key is None or key not in open_keys:
                    continue
                before = _absent_before(record)
                if before is None:
                    # The key's last value (a tombstone: none).
                    open_keys.discard(key)
                    floors.pop(key, None)
                    if record.value is not None:
                        found[key] = record.value
                else:
                    # The latest marker vouches for the most: keep the first one met.
                    floors.setdefault(key, before)
            for key, floor in list(floors.items()):
                if low <= floor:
                    floors.pop(key)
                    open_keys.discard(key)
                    absent.add(key)
            high, window = low, window * 2
        return found, absent | open_keys

    async def _window(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        low: int,
        high: int,
        *,
        last: bool = False,
    ) -> list[Any]:
        """The records at offsets ``low`` to ``high`` (excluded), in order.

        With ``last`` (``high`` is the topic's end offset), those fetched past ``high``
        too: a broker may report the end of its last batch short (Tansu gives the batch's
        first offset + 1), and they are only newer.
        """
        consumer.seek(tp, low)
        records: list[Any] = []
        position = low
        while position < high:
            fetched = await consumer.getmany(tp, timeout_ms=500)
            records += [r for r in fetched.get(tp, []) if low <= r.offset]
            position = await consumer.position(tp)
        if not last:
            records = [r for r in records if r.offset < high]
        self.records_read += len(records)
        return records

    async def close(self) -> None:
        """Stop the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
