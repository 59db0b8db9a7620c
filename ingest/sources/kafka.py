"""Consume log topics from Kafka in bounded batches, committing only what was processed.

The consumer never auto-commits. Each ``getmany(timeout_ms, max_records)`` becomes one
:class:`ingest.sources.SourceBatch`; its values are turned into one ``Binary`` column and
decoded in one cast. The pipeline calls :meth:`KafkaSource.commit` once the batch's alerts
and dead letters are written, which commits ``last offset + 1`` per partition.

Rebalances: a batch is *in flight* from the moment ``getmany`` returned it until it is
committed, and a lock is held for exactly that span (never around ``getmany`` itself). The
rebalance listener's ``on_partitions_revoked`` waits for that lock, so a partition is only
handed to another consumer after its in-flight batch is finished and committed. The
listener is not called by ``stop()``; the pipeline commits every batch before it asks for
the next one and before it closes the source, so nothing is left to commit there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.helpers import create_ssl_context

from ingest.sources.families import family_of_topic
from ingest.sources.records import SourceBatch, decode_records

__all__ = ["ORGANIZATION_HEADER", "KafkaSource", "security_options"]

ORGANIZATION_HEADER = "organization.id"
"""Record header a forwarder sets to name the ministry."""

_log = logging.getLogger("neakta.kafka")


def security_options(
    *,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    """aiokafka client options for PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.

    Examples
    --------
    >>> security_options()
    {'security_protocol': 'PLAINTEXT'}
    >>> sorted(security_options(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
    ...                         username="u", password="p"))
    ['sasl_mechanism', 'sasl_plain_password', 'sasl_plain_username', 'security_protocol']
    """
    options: dict[str, Any] = {"security_protocol": security_protocol}
    if security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(ca_file) if ca_file is not None else None
        )
    if security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = username
        options["sasl_plain_password"] = password
    return options


class _FinishBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, in_flight: asyncio.Lock) -> None:
        self._in_flight = in_flight

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Held only while a batch is processed and committed, never around getmany.
        async with self._in_flight:
            _log.info("partitions revoked after in-flight batch: %s", sorted(map(str, revoked)))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        _log.info("partitions assigned: %s", sorted(map(str, assigned)))


def _organization(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for key, value in headers:
        if key == ORGANIZATION_HEADER and value:
            return value.decode("utf-8", errors="replace")
    return None


class KafkaSource:
    """A consumer group member as a :class:`ingest.sources.Source`.

    Parameters
    ----------
    bootstrap_servers
        ``host:port[,host:port]``.
    topics
        Topics to subscribe to.
    group_id
        The consumer group; processes with the same id split the partitions.
    families
        Topic -> family, for topics not named ``logs.<family>[.<ministry>]``.
    max_records, timeout_ms
        Bounds of one ``getmany``: keep a batch well inside ``max_poll_interval_ms``.
    max_record_bytes
        Longer records are dead letters.
    stop
        Set it to end the batches after the current one.
    options
        More ``AIOKafkaConsumer`` options (:func:`security_options`, ``client_id``...).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: Sequence[str],
        group_id: str,
        families: Mapping[str, str] | None = None,
        max_records: int = 50_000,
        timeout_ms: int = 500,
        max_record_bytes: int = 1 << 20,
        stop: asyncio.Event | None = None,
        **options: Any,
    ) -> None:
        self.topics = tuple(topics)
        self.families = dict(families or {})
        self.max_records = max_records
        self.timeout_ms = timeout_ms
        self.max_record_bytes = max_record_bytes
        self.stop = stop or asyncio.Event()
        self._options = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            **options,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._in_flight = asyncio.Lock()
        self._flying = False
        self._next: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        """Join the group (called by :meth:`batches` when not called before)."""
        if self._consumer is not None:
            return
        self._consumer = AIOKafkaConsumer(**self._options)
        self._consumer.subscribe(self.topics, listener=_FinishBeforeRevoke(self._in_flight))
        await self._consumer.start()

    async def batches(self) -> AsyncGenerator[SourceBatch, None]:
        """One batch per non-empty ``getmany``, until ``stop`` is set."""
        await self.start()
        consumer = self._consumer
        assert consumer is not None
        while not self.stop.is_set():
            fetched = await consumer.getmany(
                timeout_ms=self.timeout_ms, max_records=self.max_records
            )
            if not fetched:
                continue
            await self._in_flight.acquire()
            self._flying = True
            try:
                yield self._batch(fetched)
            finally:
                self._land()

    def _batch(self, fetched: Mapping[TopicPartition, list[Any]]) -> SourceBatch:
        parts: list[pl.DataFrame] = []
        position: dict[Hashable, int] = {}
        for tp, records in fetched.items():
            if not records:
                continue
            family, ministry = family_of_topic(tp.topic, self.families)
            offsets = pl.Series("offset", [r.offset for r in records], dtype=pl.Int64)
            if any(r.headers for r in records):
                header = [_organization(r.headers) for r in records]
            else:
                header = [None] * len(records)
            size = len(records)
            parts.append(
                pl.DataFrame(
                    {
                        "family": pl.repeat(family, size, dtype=pl.String, eager=True),
                        "source": pl.repeat(tp.topic, size, dtype=pl.String, eager=True),
                        "origin": f"{tp.topic}/{tp.partition}/" + offsets.cast(pl.String),
                        "raw": pl.Series([r.value for r in records], dtype=pl.Binary),
                        "header_organization": pl.Series(header, dtype=pl.String),
                        "source_organization": pl.repeat(
                            ministry, size, dtype=pl.String, eager=True
                        ),
                    }
                )
            )
            position[tp] = records[-1].offset + 1
            self._next[tp] = records[-1].offset + 1
        frame = pl.concat(parts)
        good, dead = decode_records(frame, max_bytes=self.max_record_bytes)
        unknown = good.get_column("family").is_null()
        if unknown.any():
            lost = good.filter(unknown)
            reason = pl.format("no log family for topic {}", pl.col("source"))
            dead = pl.concat(
                [
                    dead,
                    lost.select(
                        "source",
                        "origin",
                        reason.alias("reason"),
                        pl.col("line").cast(pl.Binary).alias("raw"),
                    ),
                ]
            )
            good = good.filter(~unknown)
        return SourceBatch(good, dead, position)

    async def commit(self, batch: SourceBatch) -> None:
        """Commit the batch's next offsets on the partitions still assigned; end its flight."""
        consumer = self._consumer
        try:
            if consumer is not None:
                assigned = consumer.assignment()
                offsets = {
                    tp: offset
                    for tp, offset in batch.position.items()
                    if isinstance(tp, TopicPartition) and tp in assigned
                }
                if offsets:
                    try:
                        await consumer.commit(offsets)
                    except (CommitFailedError, IllegalStateError) as error:
                        # The group moved on: the new owner reads these records again.
                        _log.warning("commit failed, records will be redelivered: %s", error)
        finally:
            self._land()

    def _land(self) -> None:
        """End the in-flight span (once), letting a waiting rebalance go on."""
        if self._flying:
            self._flying = False
            self._in_flight.release()

    @property
    def assigned(self) -> bool:
        """Whether the group gave this consumer any partition yet."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def lag(self) -> dict[str, int]:
        """Records behind the partition's end, per ``topic/partition`` (last fetch's view)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lags: dict[str, int] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lags[f"{tp.topic}/{tp.partition}"] = max(high - self._next.get(tp, 0), 0)
        return lags

    async def close(self) -> None:
        """Leave the group."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
